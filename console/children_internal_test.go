package console

import (
	"slices"
	"testing"

	"github.com/ntsflow/ntsflow/app"
)

// Every care action package app can offer has a form here, and no other.
func TestEveryCareActionHasAForm(t *testing.T) {
	var names []string
	for _, a := range careActions {
		names = append(names, a.Name)
	}
	if !slices.Equal(names, app.CareActionNames) {
		t.Errorf("the console's care forms are %v; package app's care actions are %v", names, app.CareActionNames)
	}
}
