package contract

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// Every published type, channel and payload field is in docs/asyncapi.yaml:
// the contract cannot grow a field the document does not describe.
func TestAsyncAPIDocumentsEverything(t *testing.T) {
	b, err := os.ReadFile("../docs/asyncapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, name := range Names() {
		for _, want := range []string{"address: " + Subject(name), "name: " + CEType(name)} {
			if !strings.Contains(doc, want) {
				t.Errorf("asyncapi.yaml lacks %q", want)
			}
		}
	}
	for _, h := range []string{"ce-specversion", "ce-id", "ce-source", "ce-type", "ce-time", "ce-subject", "content-type"} {
		if !regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(h) + `:`).MatchString(doc) {
			t.Errorf("asyncapi.yaml lacks header %s", h)
		}
	}
	for schema, typ := range map[string]reflect.Type{"ReferralEvent": reflect.TypeOf(Payload{}), "Deadline": reflect.TypeOf(Deadline{}), "Safeguarding": reflect.TypeOf(Safeguarding{})} {
		block := schemaBlock(doc, schema)
		if block == "" {
			t.Fatalf("asyncapi.yaml has no schema %s", schema)
		}
		for i := range typ.NumField() {
			field := strings.Split(typ.Field(i).Tag.Get("json"), ",")[0]
			if !regexp.MustCompile(`(?m)^        ` + regexp.QuoteMeta(field) + `:`).MatchString(block) {
				t.Errorf("schema %s lacks field %s", schema, field)
			}
		}
	}
}

// schemaBlock is the text of one schema under components.schemas.
func schemaBlock(doc, name string) string {
	i := strings.Index(doc, "\n    "+name+":\n")
	if i < 0 {
		return ""
	}
	rest := doc[i+1:]
	lines := strings.Split(rest, "\n")
	end := 1
	for end < len(lines) && (lines[end] == "" || strings.HasPrefix(lines[end], "      ")) {
		end++
	}
	return strings.Join(lines[:end], "\n")
}
