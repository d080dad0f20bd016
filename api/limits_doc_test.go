package api

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	"github.com/pb33f/libopenapi/datamodel/high/base"

	"github.com/ntsflow/ntsflow/aggregates"
)

// bodyOf is the type each documented operation decodes its body into.
var bodyOf = map[string]any{
	"receiveReferral": aggregates.ReceiveReferral{}, "notifyProfessionals": aggregates.NotifyProfessionals{},
	"recordPlacementSearch": aggregates.RecordPlacementSearch{}, "requestAgeAssessment": aggregates.RequestAgeAssessment{},
	"recordAgeAssessment": aggregates.RecordAgeAssessment{}, "place": aggregates.Place{}, "withdraw": aggregates.Withdraw{},
	"recordLeftCare": aggregates.RecordLeftCare{}, "reportMissing": aggregates.ReportMissing{}, "recordMissingReturn": aggregates.RecordReturn{},
	"recordStrategyDiscussion": aggregates.RecordStrategyDiscussion{}, "recordReturnInterview": aggregates.RecordReturnInterview{},
	"setDateOfBirth": aggregates.SetDateOfBirth{}, "recordLeaveToRemain": aggregates.RecordLeaveToRemain{}, "allocate": aggregates.Allocate{},
	"acceptAllocation": aggregates.AcceptAllocation{}, "raiseAllocationException": aggregates.RaiseAllocationException{},
	"setRota": aggregates.SetRota{}, "pauseAuthority": aggregates.PauseAuthority{}, "setContact": aggregates.SetContact{},
	"setPledge": aggregates.SetPledge{}, "setWorker": aggregates.SetWorker{}, "markWorkerAway": aggregates.MarkWorkerAway{},
	"recordWorkerLeft": aggregates.RecordWorkerLeft{}, "allocateWorker": aggregates.AllocateWorker{}, "replayParked": replayRequest{},
	"endPause": aggregates.EndPause{}, "voidMessage": voidRequest{},
	"correctChildDetail": aggregates.CorrectChildDetail{}, "exportSubjectAccess": SubjectAccessRequest{},
	"placeLegalHold": aggregates.PlaceLegalHold{}, "releaseLegalHold": aggregates.PlaceLegalHold{},
}

// Issue 21, item 5: docs/openapi.yaml and the limit tags say the same. The
// hostile-input test probes the limits from outside; this holds each
// documented body to the fields its type takes, both ways, so a field the
// code takes but the document does not mention fails too.
func TestTheDocumentedLimitsAreTheCodes(t *testing.T) {
	spec, err := os.ReadFile("../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		t.Fatal(err)
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, item := range model.Model.Paths.PathItems.FromOldest() {
		for _, op := range item.GetOperations().FromOldest() {
			if op.RequestBody == nil {
				continue
			}
			id := op.OperationId
			seen[id] = true
			v, ok := bodyOf[id]
			if !ok {
				t.Errorf("%s: documented with a body, but bodyOf does not name the type it decodes into", id)
				continue
			}
			mt, _ := op.RequestBody.Content.Get("application/json")
			schema := mt.Schema.Schema()
			documented := map[string]*base.Schema{}
			if schema.Properties != nil {
				for name, p := range schema.Properties.FromOldest() {
					documented[name] = p.Schema()
				}
			}
			var taken []string
			rt := reflect.TypeOf(v)
			for i := range rt.NumField() {
				name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
				if rt.Field(i).IsExported() && name != "" && name != "-" {
					taken = append(taken, name)
				}
			}
			var docNames []string
			for name := range documented {
				docNames = append(docNames, name)
			}
			slices.Sort(taken)
			slices.Sort(docNames)
			if !slices.Equal(taken, docNames) {
				t.Errorf("%s: the code takes %v, docs/openapi.yaml documents %v", id, taken, docNames)
			}
			limits, err := aggregates.Limits(v)
			if err != nil {
				t.Errorf("%s: %v", id, err)
				continue
			}
			for _, l := range limits {
				s := documented[l.Field]
				if s == nil {
					continue
				}
				agree(t, id+"."+l.Field, l, s)
			}
		}
	}
	for id := range bodyOf {
		if !seen[id] {
			t.Errorf("bodyOf names %s, which docs/openapi.yaml does not document with a body", id)
		}
	}
}

func agree(t *testing.T, name string, l aggregates.Limit, s *base.Schema) {
	t.Helper()
	multiline := false
	if s.Extensions != nil {
		if n := s.Extensions.GetOrZero("x-multiline"); n != nil && n.Value == "true" {
			multiline = true
		}
	}
	text := func(what string, s *base.Schema) {
		if s.MaxLength != nil && int(*s.MaxLength) != l.Max {
			t.Errorf("%s: %s maxLength %d in the document, %d in the code", name, what, *s.MaxLength, l.Max)
		}
		if s.MaxLength == nil && len(s.Enum) == 0 && s.Pattern == "" && s.Format == "" {
			t.Errorf("%s: %s has no maxLength in the document (the code's is %d)", name, what, l.Max)
		}
	}
	switch l.Kind {
	case reflect.String:
		text("the text", s)
		if multiline != l.Multiline {
			t.Errorf("%s: multiline %v in the document (x-multiline), %v in the code", name, multiline, l.Multiline)
		}
	case reflect.Slice:
		if s.MaxItems == nil || int(*s.MaxItems) != l.Items {
			t.Errorf("%s: maxItems %v in the document, %d in the code", name, s.MaxItems, l.Items)
		}
		if s.Items != nil && s.Items.IsA() {
			text("each entry", s.Items.A.Schema())
		}
	case reflect.Int, reflect.Uint64:
		if s.Minimum == nil || s.Maximum == nil || int(*s.Minimum) != *l.Min || int(*s.Maximum) != *l.Most {
			t.Errorf("%s: the document's range is %v to %v, the code's %d to %d", name, s.Minimum, s.Maximum, *l.Min, *l.Most)
		}
	}
}
