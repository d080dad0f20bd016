package engine

import "github.com/google/uuid"

// NewReferralID names a new referral. With an idempotency key the id is
// derived from it (and the receiving authority, so that two authorities'
// keys never collide), so a repeated create lands on the same referral and
// finds its first outcome there.
func NewReferralID(authority, key string) string {
	if key == "" {
		return uuid.Must(uuid.NewV7()).String()
	}
	return uuid.NewSHA1(referralNamespace, []byte(authority+"\x00"+key)).String()
}

var referralNamespace = uuid.MustParse("6f1c2a0e-3d5b-4f7a-9c61-2b8e4d0a7f13")

func newEventID() string { return uuid.Must(uuid.NewV7()).String() }
