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
