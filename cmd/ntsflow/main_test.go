package main

import (
	"os"
	"testing"
)

// asMainEnv, set in a test's environment, makes this test binary act as
// ntsflow in the child processes the test starts: bench starts serve from
// os.Executable(), which under go test is the test binary.
const asMainEnv = "NTSFLOW_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}
