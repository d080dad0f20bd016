// Package refdata is the reference data the engine checks and counts
// against: the English authorities with children's services (ONS code,
// name, region) and their child populations (ONS mid-2020 estimates,
// population-mid2020.csv, with its provenance at the top), both shipped in
// the binary; an operator with a newer ONS release loads it over them
// (LoadPopulation).
package refdata

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
)

//go:embed authorities.csv
var shippedAuthorities []byte

//go:embed aliases.csv
var shippedAliases []byte

//go:embed population-mid2020.csv
var shippedPopulation []byte

// ShippedPopulationSource names the shipped child population figures.
const ShippedPopulationSource = "ONS mid-2020 population estimates (MYE2 - Persons, April 2021 boundaries), ages 0-17 summed"

// Regions are the nine English regions, in the ONS order.
var Regions = []string{"North East", "North West", "Yorkshire and the Humber", "East Midlands", "West Midlands", "East of England", "London", "South East", "South West"}

// Authority is one authority with children's services.
type Authority struct {
	Code   string `json:"code"`
	Name   string `json:"name"`
	Region string `json:"region"`
	// ChildPopulation is the number of children aged 0 to 17, 0 when no
	// population file was loaded.
	ChildPopulation  int    `json:"childPopulation,omitempty"`
	PopulationYear   string `json:"populationYear,omitempty"`
	PopulationSource string `json:"populationSource,omitempty"`
}

// Registry holds the reference data.
type Registry struct {
	byCode  map[string]Authority
	aliases map[string]string
	// PopulationLoaded is true once a population file covering every
	// authority has been loaded.
	PopulationLoaded bool
}

// Default is the shipped authority list with the shipped child
// populations, so every authority has a threshold out of the box.
func Default() *Registry {
	r := DefaultAuthorities()
	if err := r.loadShippedPopulation(); err != nil {
		panic("refdata: shipped population: " + err.Error())
	}
	return r
}

// DefaultAuthorities is the shipped authority list alone, with no
// populations: for an operator's figures to be loaded into, and for the
// views' answer when none are.
func DefaultAuthorities() *Registry {
	r, err := parse(shippedAuthorities, shippedAliases)
	if err != nil {
		panic("refdata: shipped data: " + err.Error())
	}
	return r
}

// loadShippedPopulation reads population-mid2020.csv, whose columns are
// ons_code,name,region,population_0_17,year,note.
func (r *Registry) loadShippedPopulation() error {
	rows := map[string][]string{}
	err := readCSV(shippedPopulation, []string{"ons_code", "name", "region", "population_0_17", "year", "note"}, func(line int, f []string) error {
		source := ShippedPopulationSource
		if f[5] != "" {
			source += "; " + f[5]
		}
		rows[f[0]] = []string{f[0], f[3], f[4], source}
		return nil
	})
	if err != nil {
		return err
	}
	return r.setPopulation(rows, "population-mid2020.csv")
}

// LoadAuthorities reads an operator's authority list (the shipped file's
// columns: ons_code,name,region) instead of the shipped one.
func LoadAuthorities(path string) (*Registry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("authorities: %w", err)
	}
	r, err := parse(b, shippedAliases)
	if err != nil {
		return nil, fmt.Errorf("authorities %s: %w", path, err)
	}
	return r, nil
}

func parse(authorities, aliases []byte) (*Registry, error) {
	r := &Registry{byCode: map[string]Authority{}, aliases: map[string]string{}}
	validRegion := map[string]bool{}
	for _, reg := range Regions {
		validRegion[reg] = true
	}
	err := readCSV(authorities, []string{"ons_code", "name", "region"}, func(line int, f []string) error {
		if !validRegion[f[2]] {
			return fmt.Errorf("line %d: %q is not one of the nine English regions", line, f[2])
		}
		if _, dup := r.byCode[f[0]]; dup {
			return fmt.Errorf("line %d: %s twice", line, f[0])
		}
		r.byCode[f[0]] = Authority{Code: f[0], Name: f[1], Region: f[2]}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = readCSV(aliases, []string{"old_code", "current_code", "note"}, func(line int, f []string) error {
		if _, ok := r.byCode[f[1]]; ok {
			r.aliases[f[0]] = f[1]
		}
		return nil
	})
	return r, err
}

// readCSV reads a CSV with '#' comments and a header row that must be want.
func readCSV(b []byte, want []string, row func(line int, fields []string) error) error {
	cr := csv.NewReader(bytes.NewReader(b))
	cr.Comment = '#'
	cr.FieldsPerRecord = len(want)
	header, err := cr.Read()
	if err != nil {
		return fmt.Errorf("header: %w", err)
	}
	if strings.Join(header, ",") != strings.Join(want, ",") {
		return fmt.Errorf("header is %q, want %q", strings.Join(header, ","), strings.Join(want, ","))
	}
	for {
		f, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		line, _ := cr.FieldPos(0)
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		if err := row(line, f); err != nil {
			return err
		}
	}
}

// Canonical is the current code for code (itself, or the code that
// replaced it), and whether it names an authority.
func (r *Registry) Canonical(code string) (string, bool) {
	if cur, ok := r.aliases[code]; ok {
		return cur, true
	}
	_, ok := r.byCode[code]
	return code, ok
}

// Known reports whether code (or an earlier code of the same authority)
// names an authority with children's services.
func (r *Registry) Known(code string) bool { _, ok := r.Canonical(code); return ok }

// Lookup finds an authority by code (current or earlier).
func (r *Registry) Lookup(code string) (Authority, bool) {
	c, ok := r.Canonical(code)
	if !ok {
		return Authority{}, false
	}
	return r.byCode[c], true
}

// RegionOf is the authority's region, or "" for an unknown code.
func (r *Registry) RegionOf(code string) string { a, _ := r.Lookup(code); return a.Region }

// Authorities lists every authority, by code.
func (r *Registry) Authorities() []Authority {
	out := make([]Authority, 0, len(r.byCode))
	for _, a := range r.byCode {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}

// InRegion lists the codes of a region's authorities (by its name), in
// code order: the default order of its partnership's rota.
func (r *Registry) InRegion(region string) []string {
	var out []string
	for _, a := range r.Authorities() {
		if a.Region == region {
			out = append(out, a.Code)
		}
	}
	return out
}

// RegionByName finds a region by its name or its slug ("north-west"),
// ignoring case.
func RegionByName(s string) (string, bool) {
	for _, reg := range Regions {
		if strings.EqualFold(s, reg) || strings.EqualFold(s, Slug(reg)) {
			return reg, true
		}
	}
	return "", false
}

// Slug is a region's name for URLs: "Yorkshire and the Humber" is
// "yorkshire-and-the-humber".
func Slug(region string) string { return strings.ReplaceAll(strings.ToLower(region), " ", "-") }

// ErrNoPopulation says why thresholds are missing.
var ErrNoPopulation = errors.New("no child population data: load one with --population FILE (CSV with columns ons_code,population_0_17,year,source, one row per authority, from the ONS mid-year population estimates); thresholds are not computed without it")

// LoadPopulation reads the child populations (aged 0 to 17) from an
// operator's CSV: ons_code,population_0_17,year,source. Every authority must
// have a row, every row a year and a source: a threshold must say where its
// numbers come from.
func (r *Registry) LoadPopulation(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("population: %w", err)
	}
	rows := map[string][]string{}
	var dup error
	err = readCSV(b, []string{"ons_code", "population_0_17", "year", "source"}, func(line int, f []string) error {
		if _, twice := rows[f[0]]; twice && dup == nil {
			dup = fmt.Errorf("line %d: %s twice", line, f[0])
		}
		rows[f[0]] = append([]string(nil), f...)
		return nil
	})
	if err == nil {
		err = dup
	}
	if err != nil {
		return fmt.Errorf("population %s: %w", path, err)
	}
	return r.setPopulation(rows, path)
}

// setPopulation takes rows of ons_code, population_0_17, year, source: every
// authority must have one, every row a year and a source, since a threshold
// must say where its numbers come from. Nothing changes unless all are good.
func (r *Registry) setPopulation(rows map[string][]string, from string) error {
	seen := map[string]bool{}
	updated := map[string]Authority{}
	for _, raw := range slices.Sorted(maps.Keys(rows)) {
		f := rows[raw]
		code, ok := r.Canonical(f[0])
		if !ok {
			return fmt.Errorf("population %s: %s is not an authority with children's services", from, f[0])
		}
		n, err := strconv.Atoi(f[1])
		if err != nil || n <= 0 {
			return fmt.Errorf("population %s: %s: population_0_17 %q is not a positive whole number", from, f[0], f[1])
		}
		if f[2] == "" || f[3] == "" {
			return fmt.Errorf("population %s: %s: name the year and the source of the estimate", from, f[0])
		}
		if seen[code] {
			return fmt.Errorf("population %s: %s twice", from, code)
		}
		seen[code] = true
		a := r.byCode[code]
		a.ChildPopulation, a.PopulationYear, a.PopulationSource = n, f[2], f[3]
		updated[code] = a
	}
	var missing []string
	for code := range r.byCode {
		if !seen[code] {
			missing = append(missing, code)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("population %s: no row for %d authorities (%s...)", from, len(missing), strings.Join(missing[:min(5, len(missing))], ", "))
	}
	for code, a := range updated {
		r.byCode[code] = a
	}
	r.PopulationLoaded = true
	return nil
}
