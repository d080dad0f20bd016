package wiring_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// built are the parts whose wiring differs from one caller to the next
// unless the composition root puts them together: a referral decider, the
// metrics hooks, the policies, the views served. Outside package wiring,
// nothing builds one of them by hand (a composite literal) but the
// exceptions below.
var built = map[string]bool{"engine.Engine": true, "api.Server": true, "console.Server": true}

// exceptions name a file and the part it may build by hand, with the
// reason. A new one needs a reason as good.
var exceptions = map[string]string{
	// The engine's own tests take the runner apart: two engines racing on
	// one cache, a clock that moves, a hook counting appends. The decider
	// they run is the subject of the test, not production's wiring.
	"engine/cache_test.go:engine.Engine":  "the runner's own tests",
	"engine/engine_test.go:engine.Engine": "the runner's own tests",
	// A zero server's route table, read by the test that every route is
	// documented; it serves nothing.
	"api/api_test.go:api.Server": "reads the route table only",
	// An internal test of package views cannot import wiring, which
	// imports views; its engine only writes the fixture's events.
	"views/registry_test.go:engine.Engine": "views' internal test: wiring imports views",
	// A zero console lists its forms' questions for the test that package
	// app has words for each; it serves nothing, and an internal test of
	// package console cannot import wiring, which imports console.
	"console/classify_internal_test.go:console.Server": "console's internal test: wiring imports console; lists form questions only",
}

// TestOnlyTheRootBuildsANode fails when serve, a test rig or a benchmark
// builds an engine, an API server or a console by hand: it would run
// other wiring than production's (as every test ran another referral
// decider while only serve set Engine.Referrals).
func TestOnlyTheRootBuildsANode(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	found := map[string][]string{} // file:type -> positions
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == "wiring" || (rel != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		pkg := f.Name.Name
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			name := ""
			switch ty := lit.Type.(type) {
			case *ast.SelectorExpr:
				if x, ok := ty.X.(*ast.Ident); ok {
					name = x.Name + "." + ty.Sel.Name
				}
			case *ast.Ident:
				// Inside the package itself (engine's internal tests).
				name = strings.TrimSuffix(pkg, "_test") + "." + ty.Name
			}
			if built[name] {
				key := rel + ":" + name
				found[key] = append(found[key], fset.Position(lit.Pos()).String())
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) == 0 {
		t.Fatal("found no construction at all, not even the listed exceptions: is the scan reading the module?")
	}
	var wrong []string
	for key, at := range found {
		if _, ok := exceptions[key]; !ok {
			wrong = append(wrong, strings.Join(at, ", "))
		}
	}
	sort.Strings(wrong)
	for _, w := range wrong {
		t.Errorf("%s: built by hand; build the node with wiring.Build (or list the file in exceptions, with a reason)", w)
	}
	for key := range exceptions {
		if _, ok := found[key]; !ok {
			t.Errorf("exception %q no longer needed: remove it", key)
		}
	}
}
