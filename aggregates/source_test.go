package aggregates

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"sort"
	"strings"
	"testing"
)

// commandTypesInSource reads this package's source (not its tests) for
// every type with a CommandName method: the tests that must cover every
// command take their list from here, so a new command cannot be forgotten.
func commandTypesInSource(t *testing.T) []string {
	t.Helper()
	pkgs, err := parser.ParseDir(token.NewFileSet(), ".", func(fi fs.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range pkgs {
		for _, f := range p.Files {
			for _, d := range f.Decls {
				fn, ok := d.(*ast.FuncDecl)
				if !ok || fn.Recv == nil || fn.Name.Name != "CommandName" {
					continue
				}
				if id, ok := fn.Recv.List[0].Type.(*ast.Ident); ok {
					names = append(names, id.Name)
				}
			}
		}
	}
	sort.Strings(names)
	if len(names) < 30 {
		t.Fatalf("found only %d command types in the source: the parse no longer finds them", len(names))
	}
	return names
}
