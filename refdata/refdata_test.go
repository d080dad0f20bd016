package refdata

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The shipped populations: Stockport 63,903 children (threshold 63.903);
// Devon 148,076, which a published FOI answer puts at "about 150" for its
// 0.1% threshold.
func TestShippedPopulations(t *testing.T) {
	r := Default()
	if !r.PopulationLoaded {
		t.Fatal("the default registry has no populations")
	}
	for code, want := range map[string]int{"E08000007": 63903, "E10000008": 148076} {
		if a, _ := r.Lookup(code); a.ChildPopulation != want {
			t.Errorf("%s: %d children, want %d", code, a.ChildPopulation, want)
		}
	}
	if DefaultAuthorities().PopulationLoaded {
		t.Error("DefaultAuthorities carries populations")
	}
}

func TestShippedAuthorities(t *testing.T) {
	r := Default()
	all := r.Authorities()
	if len(all) != 153 {
		t.Fatalf("%d authorities, want the 153 with children's services", len(all))
	}
	perRegion := map[string]int{}
	for _, a := range all {
		perRegion[a.Region]++
		if a.ChildPopulation <= 0 || a.PopulationYear != "mid-2020" || !strings.HasPrefix(a.PopulationSource, "ONS mid-2020") {
			t.Fatalf("%s %s: population %d, year %q, source %q: every authority has a shipped figure that names its source", a.Code, a.Name, a.ChildPopulation, a.PopulationYear, a.PopulationSource)
		}
	}
	// Counts of children's services authorities per region since April 2023.
	want := map[string]int{"North East": 12, "North West": 24, "Yorkshire and the Humber": 15, "East Midlands": 10, "West Midlands": 14, "East of England": 11, "London": 33, "South East": 19, "South West": 15}
	for reg, n := range want {
		if perRegion[reg] != n {
			t.Errorf("%s: %d authorities, want %d", reg, perRegion[reg], n)
		}
	}
	if a, ok := r.Lookup("E08000007"); !ok || a.Name != "Stockport" || a.Region != "North West" {
		t.Errorf("Stockport: %+v", a)
	}
	if c, ok := r.Canonical("E08000016"); !ok || c != "E08000038" {
		t.Errorf("Barnsley's earlier code: %s %v", c, ok)
	}
	for _, gone := range []string{"E10000006", "E10000023", "E10000027", "E10000021", "E07000001"} {
		if r.Known(gone) {
			t.Errorf("%s is not a children's services authority now", gone)
		}
	}
	if reg, ok := RegionByName("yorkshire-and-the-humber"); !ok || reg != "Yorkshire and the Humber" {
		t.Errorf("region slug: %q", reg)
	}
}

func TestPopulationFile(t *testing.T) {
	r := Default()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("ons_code,population_0_17,year,source\n")
	for i, a := range r.Authorities() {
		fmt.Fprintf(&b, "%s,%d,mid-2022,test figures\n", a.Code, 1000+i)
	}
	good := filepath.Join(dir, "pop.csv")
	os.WriteFile(good, []byte(b.String()), 0o600)
	if err := r.LoadPopulation(good); err != nil {
		t.Fatal(err)
	}
	if a, _ := r.Lookup("E06000001"); a.ChildPopulation != 1000 || a.PopulationYear != "mid-2022" || !r.PopulationLoaded {
		t.Fatalf("%+v", a)
	}
	for name, doc := range map[string]string{
		"missing authorities": "ons_code,population_0_17,year,source\nE06000001,100,2022,x\n",
		"unknown code":        "ons_code,population_0_17,year,source\nE07000001,100,2022,x\n",
		"no source":           "ons_code,population_0_17,year,source\nE06000001,100,2022,\n",
		"not a number":        "ons_code,population_0_17,year,source\nE06000001,many,2022,x\n",
		"wrong header":        "code,pop\nE06000001,100\n",
	} {
		p := filepath.Join(dir, "bad.csv")
		os.WriteFile(p, []byte(doc), 0o600)
		if err := Default().LoadPopulation(p); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
}
