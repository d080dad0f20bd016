package events

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"
)

// ErrUnknownType is wrapped by Decode when an event's type, or its schema
// version, is newer than this build knows. The event still decodes, with an
// Unknown payload, so readers can count and skip it instead of failing.
var ErrUnknownType = errors.New("unknown event type")

// Unknown is the payload of an event this build cannot read. Raw keeps the
// bytes so nothing is lost if the event is shown or exported.
type Unknown struct {
	Raw json.RawMessage
}

// MarshalJSON writes the bytes as they came.
func (u Unknown) MarshalJSON() ([]byte, error) { return u.Raw, nil }

// strict reads a payload of type T with decodeStored; the fast path
// (fastdecode.go) reads T by its plan, made from goType.
type strict[T any] struct{}

func (strict[T]) decode(raw json.RawMessage) (any, error) {
	var v T
	if err := decodeStored(raw, &v); err != nil {
		return nil, err
	}
	return v, nil
}

func (strict[T]) goType() reflect.Type { return reflect.TypeFor[T]() }

// catalogue lists every event type with its current schema version and the
// upcasters for the versions before it.
var catalogue = map[string]payloadType{
	TypeReferralReceived: {version: 2, codec: strict[ReferralReceived]{}, upcast: map[int]func(json.RawMessage) (json.RawMessage, error){
		1: upcastReceivedV1,
	}},
	TypeProfessionalsNotified:   {version: 1, codec: strict[ProfessionalsNotified]{}},
	TypePlacementSearched:       {version: 1, codec: strict[PlacementSearched]{}},
	TypeAgeAssessmentRequested:  {version: 1, codec: strict[AgeAssessmentRequested]{}},
	TypeAgeAssessed:             {version: 1, codec: strict[AgeAssessed]{}},
	TypeReferralPlaced:          {version: 1, codec: strict[ReferralPlaced]{}},
	TypeReferralWithdrawn:       {version: 1, codec: strict[ReferralWithdrawn]{}},
	TypeChildLeftCare:           {version: 1, codec: strict[ChildLeftCare]{}},
	TypeDeadlineSet:             {version: 1, codec: strict[DeadlineSet]{}},
	TypeDeadlineWarning:         {version: 1, codec: strict[DeadlineWarning]{}},
	TypeDeadlineEscalated:       {version: 1, codec: strict[DeadlineEscalated]{}},
	TypeDeadlineBreached:        {version: 1, codec: strict[DeadlineBreached]{}},
	TypeAuthorityPledgeSet:      {version: 1, codec: strict[AuthorityPledgeSet]{}},
	TypeChildDetailCorrected:    {version: 1, codec: strict[ChildDetailCorrected]{}},
	TypeSubjectAccessExported:   {version: 1, codec: strict[SubjectAccessExported]{}},
	TypeReferralReferred:        {version: 1, codec: strict[ReferralReferred]{}},
	TypeReferralAllocated:       {version: 1, codec: strict[ReferralAllocated]{}},
	TypeAllocationAccepted:      {version: 1, codec: strict[AllocationAccepted]{}},
	TypeAllocationException:     {version: 1, codec: strict[AllocationException]{}},
	TypeAllocationReminded:      {version: 1, codec: strict[AllocationReminded]{}},
	TypeAllocationEscalated:     {version: 1, codec: strict[AllocationEscalated]{}},
	TypeRegionRotaSet:           {version: 1, codec: strict[RegionRotaSet]{}},
	TypeRegionAuthorityPaused:   {version: 1, codec: strict[RegionAuthorityPaused]{}},
	TypeRegionRotaAdvanced:      {version: 1, codec: strict[RegionRotaAdvanced]{}},
	TypeRegionPauseEnded:        {version: 1, codec: strict[RegionPauseEnded]{}},
	TypeAuthorityContactSet:     {version: 1, codec: strict[AuthorityContactSet]{}},
	TypePledgePlaceTaken:        {version: 1, codec: strict[PledgePlaceTaken]{}},
	TypeWorkerJoined:            {version: 1, codec: strict[WorkerJoined]{}},
	TypeWorkerUpdated:           {version: 1, codec: strict[WorkerUpdated]{}},
	TypeWorkerAway:              {version: 1, codec: strict[WorkerAway]{}},
	TypeWorkerLeft:              {version: 1, codec: strict[WorkerLeft]{}},
	TypeWorkerAllocated:         {version: 1, codec: strict[WorkerAllocated]{}},
	TypeMissingReported:         {version: 1, codec: strict[MissingReported]{}},
	TypeMissingNotified:         {version: 1, codec: strict[MissingNotified]{}},
	TypeMissingReturned:         {version: 1, codec: strict[MissingReturned]{}},
	TypeStrategyDiscussionHeld:  {version: 1, codec: strict[StrategyDiscussionHeld]{}},
	TypeStrategyDiscussionLate:  {version: 1, codec: strict[StrategyDiscussionOverdue]{}},
	TypeReturnInterviewOffered:  {version: 1, codec: strict[ReturnInterviewOffered]{}},
	TypeReturnInterviewWarning:  {version: 1, codec: strict[ReturnInterviewWarning]{}},
	TypeReturnInterviewBreached: {version: 1, codec: strict[ReturnInterviewBreached]{}},
	TypeCareDateOfBirthSet:      {version: 1, codec: strict[CareDateOfBirthSet]{}},
	TypeLeaveToRemainRecorded:   {version: 1, codec: strict[LeaveToRemainRecorded]{}},
	TypeLeavingCareInvolved:     {version: 1, codec: strict[LeavingCareInvolved]{}},
	TypeTriplePlanningRecorded:  {version: 1, codec: strict[TriplePlanningRecorded]{}},
	TypeCareLeaver:              {version: 1, codec: strict[CareLeaver]{}},
	TypeSequenceVoided:          {version: 1, codec: strict[SequenceVoided]{}},
	TypeLegalHoldPlaced:         {version: 1, codec: strict[LegalHoldPlaced]{}},
	TypeLegalHoldReleased:       {version: 1, codec: strict[LegalHoldReleased]{}},
	TypeRecordDisposed:          {version: 1, codec: strict[RecordDisposed]{}},
}

// upcastReceivedV1 lifts referral.received v1, which held the child's
// languages as one comma-separated string "language", to v2's list
// "languages". The stored bytes stay v1: we upcast on read, never rewrite.
func upcastReceivedV1(raw json.RawMessage) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	if l, ok := m["language"]; ok {
		var s string
		if err := json.Unmarshal(l, &s); err != nil {
			return nil, fmt.Errorf("language: %w", err)
		}
		var langs []string
		for _, part := range strings.Split(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				langs = append(langs, part)
			}
		}
		delete(m, "language")
		if len(langs) > 0 {
			b, _ := json.Marshal(langs)
			m["languages"] = b
		}
	}
	return json.Marshal(m)
}

// SchemaVersion returns the version this build writes for an event type, or
// 0 if the type is unknown.
func SchemaVersion(eventType string) int { return catalogue[eventType].version }

// Known reports whether this build can read events of the type.
func Known(eventType string) bool { _, ok := catalogue[eventType]; return ok }

// CatalogueVersion names this build's event catalogue: every type it can
// read with its schema version. A view's snapshot records it, so that a
// build that reads more (or reads differently) folds its views again from
// zero rather than trusting a fold made without those events.
func CatalogueVersion() string {
	types := Types()
	sort.Strings(types)
	h := sha256.New()
	for _, t := range types {
		fmt.Fprintf(h, "%s@%d\n", t, catalogue[t].version)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Types lists every event type of the catalogue.
func Types() []string {
	out := make([]string, 0, len(catalogue))
	for t := range catalogue {
		out = append(out, t)
	}
	return out
}

// wireEvent is the stored shape of an envelope. Its fields are spelled out
// (not embedded) so that their order is fixed, with hash last: the chain
// hashes the stored bytes with the hash left empty (chain.go).
type wireEvent struct {
	ID            string          `json:"id"`
	Type          string          `json:"type"`
	SchemaVersion int             `json:"schemaVersion"`
	AggregateID   string          `json:"aggregateId"`
	OccurredAt    time.Time       `json:"occurredAt"`
	RecordedAt    time.Time       `json:"recordedAt"`
	Actor         string          `json:"actor"`
	Person        string          `json:"person,omitempty"`
	CorrelationID string          `json:"correlationId,omitempty"`
	CausationID   string          `json:"causationId,omitempty"`
	Data          json.RawMessage `json:"data"`
	Sealed        string          `json:"sealed,omitempty"`
	PrevHash      string          `json:"prevHash,omitempty"`
	Hash          string          `json:"hash"`
}

func toWire(e Event, data json.RawMessage) wireEvent {
	return wireEvent{ID: e.ID, Type: e.Type, SchemaVersion: e.SchemaVersion, AggregateID: e.AggregateID, OccurredAt: e.OccurredAt, RecordedAt: e.RecordedAt,
		Actor: e.Actor, Person: e.Person, CorrelationID: e.CorrelationID, CausationID: e.CausationID, Data: data, Sealed: e.Sealed, PrevHash: e.PrevHash, Hash: e.Hash}
}

func (w wireEvent) envelope() Event {
	return Event{ID: w.ID, Type: w.Type, SchemaVersion: w.SchemaVersion, AggregateID: w.AggregateID, OccurredAt: w.OccurredAt, RecordedAt: w.RecordedAt,
		Actor: w.Actor, Person: w.Person, CorrelationID: w.CorrelationID, CausationID: w.CausationID, Sealed: w.Sealed, PrevHash: w.PrevHash, Hash: w.Hash}
}

// Encode writes one event as JSON. The schema version is set from the
// catalogue when the event does not carry one.
func Encode(e Event) ([]byte, error) {
	pt, ok := catalogue[e.Type]
	if !ok {
		if u, isUnknown := e.Data.(Unknown); isUnknown {
			return json.Marshal(toWire(e, u.Raw))
		}
		return nil, fmt.Errorf("encode %s: %w", e.Type, ErrUnknownType)
	}
	if p, ok := e.Data.(Payload); !ok || p.EventType() != e.Type {
		return nil, fmt.Errorf("encode %s: the data is a %T, not that event's payload", e.Type, e.Data)
	}
	if e.SchemaVersion == 0 {
		e.SchemaVersion = pt.version
	}
	data, err := json.Marshal(e.Data)
	if err != nil {
		return nil, fmt.Errorf("encode %s data: %w", e.Type, err)
	}
	if e.Sealed != "" {
		// The personal fields are stored only inside Sealed.
		if data, _, err = splitMembers(data, personal[e.Type]); err != nil {
			return nil, fmt.Errorf("encode %s data: %w", e.Type, err)
		}
	}
	return json.Marshal(toWire(e, data))
}

// Decode reads one stored event, upcasting it to the current schema version
// of its type. Unknown fields are an error: the log is written only by us, so
// a field we do not know means a corrupt or foreign message, not a newer
// writer (a newer writer bumps the schema version). A type or version newer
// than this build decodes with an Unknown payload and an error wrapping
// ErrUnknownType.
func Decode(b []byte) (Event, error) {
	if e, ok := decodeEventFast(b); ok {
		return e, nil
	}
	var w wireEvent
	if err := decodeStored(b, &w); err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	return fromWire(w)
}

// fromWire finishes decoding an envelope read strictly: its payload, by
// type, upcast to the current schema version.
func fromWire(w wireEvent) (Event, error) {
	e := w.envelope()
	pt, ok := catalogue[e.Type]
	if !ok || e.SchemaVersion > pt.version {
		e.Data = Unknown{Raw: w.Data}
		return e, fmt.Errorf("%w: %s v%d", ErrUnknownType, e.Type, e.SchemaVersion)
	}
	if e.SchemaVersion < 1 {
		return Event{}, fmt.Errorf("decode %s: schema version %d", e.Type, e.SchemaVersion)
	}
	raw := w.Data
	for v := e.SchemaVersion; v < pt.version; v++ {
		up, ok := pt.upcast[v]
		if !ok {
			return Event{}, fmt.Errorf("decode %s: no upcast from schema version %d", e.Type, v)
		}
		var err error
		if raw, err = up(raw); err != nil {
			return Event{}, fmt.Errorf("upcast %s v%d: %w", e.Type, v, err)
		}
	}
	data, err := pt.codec.decode(raw)
	if err != nil {
		return Event{}, fmt.Errorf("decode %s data: %w", e.Type, err)
	}
	e.Data = data
	e.SchemaVersion = pt.version
	return e, nil
}

// DecodeStrict decodes exactly one JSON value into v, refusing unknown
// fields and trailing data. It is the one JSON reader for all input we do
// not trust, so its errors name the field at fault (see FieldError).
func DecodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("unexpected data after the JSON value")
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err == nil {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}
