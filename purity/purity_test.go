package purity

import (
	"os/exec"
	"strings"
	"testing"
)

// Pure lists the packages that hold rules and data only. A new pure
// package belongs here.
var Pure = []string{
	"events",
	"aggregates",
	"projections",
	"sagas",
	"sagas/deadline",
	"sagas/allocation",
	"sagas/safeguarding",
	"sagas/leavingcare",
	"sagas/policy",
	"contract",
	"calendar",
	"refdata",
	"simulate",
}

// forbidden are the module path prefixes no pure package may link.
var forbidden = []string{
	"github.com/nats-io/nats-server",
	"github.com/nats-io/nats.go",
}

func TestPurePackagesLinkNoNATS(t *testing.T) {
	const module = "github.com/ntsflow/ntsflow/"
	for _, p := range Pure {
		out, err := exec.Command("go", "list", "-deps", module+p).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", p, err, out)
		}
		deps := strings.Fields(string(out))
		if len(deps) == 0 || deps[len(deps)-1] != module+p {
			t.Fatalf("go list -deps %s listed %d packages, not ending with the package itself", p, len(deps))
		}
		for _, d := range deps {
			for _, f := range forbidden {
				if strings.HasPrefix(d, f) {
					t.Errorf("%s links %s (go list -deps ./%s): keep I/O in the shell packages", p, d, p)
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
