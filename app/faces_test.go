package app

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The role rules exist once, here. A face that compares role names itself
// (auth.Region, p.Kind == "auditor", a switch over p.Kind) has started a
// second copy that will drift from this one, as the console's action list
// once drifted from the decider: this test names the line.
func TestFacesCompareNoRoles(t *testing.T) {
	roles := map[string]bool{"Authority": true, "Region": true, "Auditor": true, "Operator": true}
	names := map[string]bool{"authority": true, "region": true, "auditor": true, "operator": true}
	fset := token.NewFileSet()
	files := 0
	for _, face := range []string{"../api", "../console"} {
		paths, err := filepath.Glob(filepath.Join(face, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range paths {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			files++
			// The name the file gives the auth package, if it imports it.
			authName := ""
			for _, im := range f.Imports {
				if p, _ := strconv.Unquote(im.Path.Value); p == "github.com/ntsflow/ntsflow/auth" {
					authName = "auth"
					if im.Name != nil {
						authName = im.Name.Name
					}
				}
			}
			roleName := func(e ast.Expr) bool {
				lit, ok := e.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return false
				}
				v, _ := strconv.Unquote(lit.Value)
				return names[v]
			}
			aboutRole := func(e ast.Expr) bool {
				switch x := e.(type) {
				case *ast.SelectorExpr:
					return x.Sel.Name == "Kind"
				case *ast.CallExpr:
					if s, ok := x.Fun.(*ast.SelectorExpr); ok {
						return s.Sel.Name == "Role"
					}
				}
				return false
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch x := n.(type) {
				case *ast.SelectorExpr:
					if id, ok := x.X.(*ast.Ident); ok && authName != "" && id.Name == authName && roles[x.Sel.Name] {
						t.Errorf("%s: compares roles itself (%s.%s); ask package app instead", fset.Position(x.Pos()), id.Name, x.Sel.Name)
					}
				case *ast.BinaryExpr:
					if (x.Op == token.EQL || x.Op == token.NEQ) && ((aboutRole(x.X) && roleName(x.Y)) || (aboutRole(x.Y) && roleName(x.X))) {
						t.Errorf("%s: compares a role name itself; ask package app instead", fset.Position(x.Pos()))
					}
				case *ast.SwitchStmt:
					if x.Tag == nil || !aboutRole(x.Tag) {
						break
					}
					for _, st := range x.Body.List {
						for _, e := range st.(*ast.CaseClause).List {
							if roleName(e) {
								t.Errorf("%s: switches over a role name itself; ask package app instead", fset.Position(e.Pos()))
							}
						}
					}
				}
				return true
			})
		}
	}
	if files < 10 {
		t.Fatalf("read %d files of the faces; the paths are wrong", files)
	}
}
