package events

import (
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// storedOptions read what the log holds, strictly: a member this build does
// not know is an error (a newer writer bumps the schema version instead), so
// is a name given twice (encoding/json let the last one win, so two
// readers could disagree on what a tampered message says), invalid UTF-8
// and anything after the value. Names match exactly, as we write them.
var storedOptions = jsonv2.JoinOptions(
	jsonv2.RejectUnknownMembers(true),
	jsontext.AllowDuplicateNames(false),
	jsontext.AllowInvalidUTF8(false),
)

// decodeStored decodes one stored JSON value (a commit, an envelope, a
// payload) into v with storedOptions. It uses github.com/go-json-experiment/
// json, the standalone form of Go's encoding/json/v2: on our own commits it
// reads about twice as fast as encoding/json with DisallowUnknownFields
// (BenchmarkDecodeRealCommits), and it refuses duplicate names, which
// encoding/json cannot. DecodeCommit and Decode try the narrower fast
// path of fastdecode.go first, which gives up to this on anything it does
// not read exactly as this would. Input from outside (API bodies,
// policies) still goes through DecodeStrict, whose errors the API turns
// into field errors.
func decodeStored(b []byte, v any) error {
	return jsonv2.Unmarshal(b, v, storedOptions)
}
