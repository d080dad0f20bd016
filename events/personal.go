package events

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// Personal data (issue 24).
//
// Every field of every payload is classified here, once. A child's
// personal fields are stored encrypted under that child's data key (the
// child is the referral: the aggregate id of the referral and care
// subjects), apart from the rest of the payload, so destroying the key
// erases them from every copy of the log at once (crypto-shredding) while
// the log, its hash chain and the views' counts stay whole. See
// docs/design/privacy.md.

// DataKeySize is the size of a child's data key: AES-256.
const DataKeySize = 32

// Class says whose data a field is.
type Class int

const (
	// NotPersonal: codes, ids, times the service sets, counts.
	NotPersonal Class = iota
	// ChildPersonal: about the child; sealed under the child's key.
	ChildPersonal
	// StaffPersonal: about a member of staff (names, mailboxes). Not the
	// child's, so not under the child's key; kept in the clear for now
	// (privacy.md, "out of scope").
	StaffPersonal
)

// personal lists the child's personal fields of each event type by json
// name. Fields not listed are NotPersonal or, in staff, StaffPersonal;
// TestEveryTextFieldIsClassified fails when a type gains a text field that
// is in neither this table, staff nor notPersonal, so nobody adds one without deciding.
var personal = map[string][]string{
	TypeChildDetailCorrected:   {"newValue", "reason"},
	TypeSubjectAccessExported:  {"reason"},
	TypeReferralReceived:       {"childReference", "claimedAge", "dateOfBirth", "sex", "nationality", "languages", "needs"},
	TypeReferralReferred:       {"childReference", "claimedAge", "dateOfBirth", "sex", "nationality", "languages", "needs"},
	TypeAgeAssessmentRequested: {"reason"},
	TypeAgeAssessed:            {"assessedDateOfBirth"},
	TypeReferralPlaced:         {"provider"},
	TypeReferralWithdrawn:      {"detail"},
	TypeReferralAllocated:      {"overrideReason"},
	TypeAllocationException:    {"reason"},
	TypeMissingReported:        {"lastSeen", "policeReference"},
	TypeMissingReturned:        {"whereFound"},
	// The milestones are the date of birth plus a constant: as telling.
	TypeCareDateOfBirthSet:     {"dateOfBirth", "sixteenAt", "triplePlanningAt", "eighteenAt"},
	TypeLeaveToRemainRecorded:  {"status"},
	TypeTriplePlanningRecorded: {"leaveToRemain", "plans"},
	TypeCareLeaver:             {"leaveToRemain", "accommodation"},
}

// staff lists fields about members of staff.
var staff = map[string][]string{
	TypeAuthorityContactSet: {"mailbox", "name"},
	TypeWorkerJoined:        {"name"},
	TypeWorkerUpdated:       {"name"},
}

// notPersonal lists the text fields that are not personal: codes, ids, and
// words the service or a professional writes about the process, not the
// child. Reasons here are chosen from lists or are about authorities.
var notPersonal = map[string][]string{
	TypeChildDetailCorrected:   {"field", "corrector"},
	TypeAgeAssessed:            {"method", "outcome"},
	TypeAgeAssessmentRequested: {"method"},
	TypeAuthorityContactSet:    {"authority"},
	TypePledgePlaceTaken:       {"authority", "referralId"},
	TypeAuthorityPledgeSet:     {"authority"},
	TypeCareDateOfBirthSet:     {"authority", "basis"},
	TypeChildLeftCare:          {"reason"},
	TypeDeadlineBreached:       {"escalatedTo"},
	TypeDeadlineEscalated:      {"escalatedTo"},
	TypeDeadlineSet:            {"route", "policy"},
	TypeDeadlineWarning:        {"escalatedTo"},
	TypeSequenceVoided:         {"reason", "problem"},
	TypeMissingNotified:        {"party"},
	TypeMissingReported:        {"authority", "region", "policy"},
	TypeReturnInterviewOffered: {"offeredBy"},
	TypeStrategyDiscussionHeld: {"attendees"},
	TypePlacementSearched:      {"track", "placementTypes"},
	TypeReferralAllocated:      {"region", "authority", "skipped"},
	TypeAllocationAccepted:     {"authority"},
	TypeAllocationEscalated:    {"authority", "escalatedTo"},
	TypeAllocationException:    {"authority"},
	TypeAllocationReminded:     {"authority"},
	TypeReferralPlaced:         {"placementType"},
	TypeProfessionalsNotified:  {"professions", "notifiedBy"},
	TypeReferralReceived:       {"referralId", "receivingAuthority", "route", "transferringAuthority", "hotel"},
	TypeReferralReferred:       {"referralId", "region", "route", "referringParty", "transferringAuthority", "hotel"},
	TypeReferralWithdrawn:      {"reason"},
	TypeRegionAuthorityPaused:  {"region", "authority", "reason"},
	TypeRegionPauseEnded:       {"region", "authority", "reason"},
	TypeRegionRotaAdvanced:     {"region", "referralId", "authority"},
	TypeRegionRotaSet:          {"region", "order"},
	TypeWorkerAllocated:        {"referralId", "staffId", "skipped", "reason", "previous"},
	TypeWorkerAway:             {"staffId", "reason"},
	TypeWorkerJoined:           {"authority", "staffId"},
	TypeWorkerLeft:             {"staffId", "reallocate"},
	TypeWorkerUpdated:          {"staffId"},
	TypeLegalHoldPlaced:        {"reason"},
	TypeLegalHoldReleased:      {"reason"},
	TypeRecordDisposed:         {"referralId", "policy", "rule"},
}

// PersonalFields lists the child's personal fields of an event type, by
// json name, in the order the payload declares them (nil: none).
func PersonalFields(eventType string) []string { return personal[eventType] }

// FieldClass says whose data a field of an event type is.
func FieldClass(eventType, field string) Class {
	switch {
	case slices.Contains(personal[eventType], field):
		return ChildPersonal
	case slices.Contains(staff[eventType], field):
		return StaffPersonal
	}
	return NotPersonal
}

// Key errors, for the key store (eventstore) and its readers.
var (
	// ErrKeyDestroyed: the child's data key was destroyed when their
	// record was disposed of; their personal fields cannot be read again.
	ErrKeyDestroyed = errors.New("the child's personal data has been disposed of")
	// ErrSealed: the personal fields are sealed and no key was given.
	ErrSealed = errors.New("personal fields are sealed")
)

// Disposed is the word a reader shows in place of a personal field whose
// key was destroyed.
const Disposed = "disposed of"

// Seal encrypts the child's personal fields of e under key (AES-256-GCM,
// a fresh random nonce, the event's id, type and aggregate id as
// additional data so a sealed value cannot be moved to another event). The
// payload in memory stays as it was; Encode then writes the personal
// fields only inside e.Sealed. An event with no personal fields, or none
// set, is returned as it came.
func Seal(e Event, key []byte) (Event, error) {
	fields := personal[e.Type]
	if len(fields) == 0 || e.Sealed != "" {
		return e, nil
	}
	data, err := json.Marshal(e.Data)
	if err != nil {
		return e, fmt.Errorf("seal %s: %w", e.Type, err)
	}
	_, own, err := splitMembers(data, fields)
	if err != nil {
		return e, fmt.Errorf("seal %s: %w", e.Type, err)
	}
	if len(own) == 0 {
		return e, nil
	}
	out, err := gcmSeal(key, own, sealAD(e))
	if err != nil {
		return e, fmt.Errorf("seal %s: %w", e.Type, err)
	}
	e.Sealed = sealPrefix + base64.RawStdEncoding.EncodeToString(out)
	return e, nil
}

// Unseal gives e's personal fields back from e.Sealed with the child's key.
// With no key (nil), the fields stay empty and e.Disposed names them, so a
// reader can say "disposed of" for each rather than show a blank.
func Unseal(e Event, key []byte) (Event, error) {
	if e.Sealed == "" {
		return e, nil
	}
	if key == nil {
		e.Disposed = personal[e.Type]
		return e, nil
	}
	own, err := OpenSealed(e, key)
	if err != nil {
		return e, err
	}
	pt, ok := catalogue[e.Type]
	if !ok {
		return e, fmt.Errorf("unseal %s: %w", e.Type, ErrUnknownType)
	}
	// The payload was decoded without its personal members; they go on a
	// copy, since a decoded event may be shared between readers.
	v := reflectCopy(e.Data, pt)
	if err := decodeStored(own, v.Addr().Interface()); err != nil {
		return e, fmt.Errorf("unseal %s: %w", e.Type, err)
	}
	e.Data = v.Interface()
	return e, nil
}

// OpenSealed decrypts e.Sealed: the JSON object of e's personal fields.
func OpenSealed(e Event, key []byte) ([]byte, error) {
	s, ok := strings.CutPrefix(e.Sealed, sealPrefix)
	if !ok {
		return nil, fmt.Errorf("unseal %s %s: not a sealed value this build reads", e.Type, e.ID)
	}
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("unseal %s %s: %w", e.Type, e.ID, err)
	}
	own, err := gcmOpen(key, b, sealAD(e))
	if err != nil {
		return nil, fmt.Errorf("unseal %s %s: wrong key, or the sealed value was altered: %w", e.Type, e.ID, err)
	}
	return own, nil
}

// KeyStoreKey derives the key that wraps the children's data keys from the
// engine's chain key, which is kept out of NATS (a key file): whoever can
// read the key stream through NATS, or holds a copy of it, without the key
// file gets no data key from it.
func KeyStoreKey(chainKey []byte) []byte {
	m := hmac.New(sha256.New, chainKey)
	m.Write([]byte("ntsflow: the key that wraps children's data keys, v1"))
	return m.Sum(nil)
}

// WrapKey and UnwrapKey seal a data key under the key store's own key, so
// the key store alone gives nothing away. The child id is the additional
// data: a wrapped key cannot be moved to another child.
func WrapKey(kek, dataKey []byte, child string) ([]byte, error) {
	return gcmSeal(kek, dataKey, []byte(child))
}

// UnwrapKey is WrapKey's inverse.
func UnwrapKey(kek, wrapped []byte, child string) ([]byte, error) {
	k, err := gcmOpen(kek, wrapped, []byte(child))
	if err != nil {
		return nil, fmt.Errorf("the key store's key does not open child %s's key: %w", child, err)
	}
	return k, nil
}

const sealPrefix = "v1:"

func sealAD(e Event) []byte { return []byte(e.ID + "\x00" + e.Type + "\x00" + e.AggregateID) }

// gcmSeal encrypts plain under key with a fresh random nonce, which leads
// the result.
func gcmSeal(key, plain, ad []byte) ([]byte, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, plain, ad), nil
}

// gcmOpen is gcmSeal's inverse.
func gcmOpen(key, b, ad []byte) ([]byte, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	if len(b) < aead.NonceSize() {
		return nil, errors.New("too short to be sealed")
	}
	return aead.Open(nil, b[:aead.NonceSize()], b[aead.NonceSize():], ad)
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != DataKeySize {
		return nil, fmt.Errorf("a data key is %d bytes, not %d", DataKeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// splitMembers splits a JSON object into the members not named in fields
// (rest) and those named (own), each a JSON object with its members in
// their original order; own is nil when no named member is present.
func splitMembers(obj []byte, fields []string) (rest, own []byte, err error) {
	dec := jsontext.NewDecoder(bytes.NewReader(obj))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return nil, nil, fmt.Errorf("payload is not a JSON object")
	}
	var r, o bytes.Buffer
	r.WriteByte('{')
	o.WriteByte('{')
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, nil, err
		}
		name := tok.String()
		val, err := dec.ReadValue()
		if err != nil {
			return nil, nil, err
		}
		w := &r
		if slices.Contains(fields, name) {
			w = &o
		}
		if w.Len() > 1 {
			w.WriteByte(',')
		}
		nb, _ := json.Marshal(name)
		w.Write(nb)
		w.WriteByte(':')
		w.Write(val)
	}
	r.WriteByte('}')
	o.WriteByte('}')
	if o.Len() > 2 {
		own = o.Bytes()
	}
	return r.Bytes(), own, nil
}

// reflectCopy is a settable copy of a payload value of pt's type.
func reflectCopy(data any, pt payloadType) reflect.Value {
	v := reflect.New(pt.codec.goType()).Elem()
	if d := reflect.ValueOf(data); d.IsValid() && d.Type() == v.Type() {
		v.Set(d)
	}
	return v
}
