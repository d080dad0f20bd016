package purity

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/ntsflow/ntsflow"

// ShellMarker, as the last line of a package's doc comment, says the
// package does I/O (the shell). Every other package of the module is pure
// and is checked, so a new package is pure until someone marks it: the
// rule fails safe.
const ShellMarker = "//ntsflow:shell"

// forbidden are the module path prefixes no pure package may link.
var forbidden = []string{
	"github.com/nats-io/nats-server",
	"github.com/nats-io/nats.go",
}

// pkg is what go list says of one package of the module.
type pkg struct {
	path    string
	dir     string
	goFiles []string
	imports []string
}

// modulePackages lists the module's packages with their non-test files
// and imports.
func modulePackages(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}\t{{.Dir}}\t{{join .GoFiles \" \"}}\t{{join .Imports \" \"}}", module+"/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list %s/...: %v\n%s", module, err, out)
	}
	var pkgs []pkg
	for line := range strings.Lines(strings.TrimSpace(string(out))) {
		f := strings.Split(strings.TrimRight(line, "\n"), "\t")
		if len(f) != 4 {
			t.Fatalf("go list gave %q", line)
		}
		pkgs = append(pkgs, pkg{path: f[0], dir: f[1], goFiles: strings.Fields(f[2]), imports: strings.Fields(f[3])})
	}
	if len(pkgs) < 20 {
		t.Fatalf("go list found %d packages in the module; the layout has more", len(pkgs))
	}
	return pkgs
}

// shell reports whether a package's doc comment, in any of its non-test
// files, carries the shell marker.
func shell(t *testing.T, p pkg) bool {
	t.Helper()
	fset := token.NewFileSet()
	for _, name := range p.goFiles {
		f, err := parser.ParseFile(fset, filepath.Join(p.dir, name), nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		if f.Doc == nil {
			continue
		}
		for _, c := range f.Doc.List {
			if strings.TrimSpace(c.Text) == ShellMarker {
				return true
			}
		}
	}
	return false
}

// purePackages is the module's packages with code, less those marked as
// the shell.
func purePackages(t *testing.T) (pure, shells []string) {
	for _, p := range modulePackages(t) {
		if len(p.goFiles) == 0 {
			continue // tests only: nothing of it is linked into anything
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p.path, module), "/")
		if shell(t, p) {
			shells = append(shells, rel)
		} else {
			pure = append(pure, rel)
		}
	}
	// The derivation is alive: the log's own types are pure, the store is
	// not. Were the marker misread, every package would fall on one side.
	if !slices.Contains(pure, "events") || !slices.Contains(shells, "eventstore") {
		t.Fatalf("pure %v, shell %v: events must come out pure and eventstore shell", pure, shells)
	}
	return pure, shells
}

func TestPurePackagesLinkNoNATS(t *testing.T) {
	pure, _ := purePackages(t)
	t.Logf("pure packages (no %s): %s", ShellMarker, strings.Join(pure, " "))
	for _, p := range pure {
		out, err := exec.Command("go", "list", "-deps", module+"/"+p).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", p, err, out)
		}
		deps := strings.Fields(string(out))
		if len(deps) == 0 || deps[len(deps)-1] != module+"/"+p {
			t.Fatalf("go list -deps %s listed %d packages, not ending with the package itself", p, len(deps))
		}
		for _, d := range deps {
			for _, f := range forbidden {
				if strings.HasPrefix(d, f) {
					t.Errorf("%s links %s (go list -deps ./%s): keep I/O in the shell packages, or, if %s is one, end its doc comment with %s", p, d, p, p, ShellMarker)
				}
			}
		}
	}
}

// The product binary links no test helpers: net/http/httptest carries a
// published TLS key and certificate, and the testing packages and our own
// store rigs are for tests alone.
func TestProductBinaryLinksNoTestHelpers(t *testing.T) {
	const binary = "github.com/ntsflow/ntsflow/cmd/ntsflow"
	out, err := exec.Command("go", "list", "-deps", binary).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", binary, err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 || deps[len(deps)-1] != binary {
		t.Fatalf("go list -deps %s listed %d packages, not ending with the binary", binary, len(deps))
	}
	for _, d := range deps {
		if d == "net/http/httptest" || d == "testing" || strings.HasPrefix(d, "testing/") || strings.HasSuffix(d, "/storetest") {
			t.Errorf("the product binary links %s", d)
		}
	}
}

// Only eventstore speaks NATS: every other package of the engine reaches
// the store through eventstore's functions or through a small interface
// of its own (views.Store, ...), so what the engine asks of JetStream is
// all in one package. Test files may use nats.go and nats-server directly
// (to break the server, or to read what it holds), and so may the
// programs under examples/: they are partner teams' code, written as an
// outsider would write it and copied out of this repository.
func TestOnlyEventstoreImportsNATS(t *testing.T) {
	checked, storeSpeaks := 0, false
	for _, p := range modulePackages(t) {
		rel := strings.TrimPrefix(strings.TrimPrefix(p.path, module), "/")
		inStore := rel == "eventstore" || strings.HasPrefix(rel, "eventstore/")
		for _, imp := range p.imports {
			if !strings.HasPrefix(imp, "github.com/nats-io/") {
				continue
			}
			switch {
			case inStore:
				storeSpeaks = true
			case strings.HasPrefix(rel, "examples/"):
			default:
				t.Errorf("%s imports %s in its non-test code: go through eventstore (a function there, or a small interface %s owns that eventstore implements)", rel, imp, rel)
			}
		}
		if !inStore && !strings.HasPrefix(rel, "examples/") {
			reachesThrough(t, p, rel)
		}
		checked++
	}
	if !storeSpeaks || checked < 20 {
		t.Fatalf("checked %d packages, eventstore importing NATS: %v; the check is not reading the module", checked, storeSpeaks)
	}
}

// reachesThrough fails the test where non-test code outside eventstore
// calls the store's way through to NATS (Store.JetStream, Store.Conn):
// without an import of nats.go, that is the same reach, by a method.
func reachesThrough(t *testing.T, p pkg, rel string) {
	t.Helper()
	fset := token.NewFileSet()
	for _, name := range p.goFiles {
		f, err := parser.ParseFile(fset, filepath.Join(p.dir, name), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) != 0 {
				return true
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && (sel.Sel.Name == "JetStream" || sel.Sel.Name == "Conn") {
				t.Errorf("%s: %s calls .%s(): the store's NATS client is for eventstore and tests; go through an eventstore function or a port %s owns", rel, fset.Position(call.Pos()), sel.Sel.Name, rel)
			}
			return true
		})
	}
}
