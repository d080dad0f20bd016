package eventstore

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/nats-io/nats-server/v2/server"
)

// Users of the embedded NATS server when it listens. The names are those of
// deploy/nats/permissions.conf, so a subscriber written against a cluster
// works against an embedded engine unchanged.
const (
	EngineUser     = "ntsflow"
	SubscriberUser = "subscriber"
)

// NATSUsersFileName is the credentials file an embedded engine keeps beside
// its data when its server listens.
const NATSUsersFileName = "nats-users.json"

// NATSUsers are the passwords of the embedded server's two users: the
// engine, which may do anything, and a subscriber, which may only read the
// public stream NTS_PUBLIC through its own consumers.
type NATSUsers struct {
	Engine     string `json:"engine"`
	Subscriber string `json:"subscriber"`
}

// SubscriberPublishAllow is every subject the subscriber user may publish
// to: the JetStream API calls for reading NTS_PUBLIC through a consumer, and
// acks. It may subscribe to its inboxes only. The same list is in
// deploy/nats/permissions.conf.
var SubscriberPublishAllow = []string{
	"$JS.API.INFO",
	"$JS.API.STREAM.INFO." + PublicStream,
	"$JS.API.CONSUMER.CREATE." + PublicStream + ".>",
	"$JS.API.CONSUMER.DURABLE.CREATE." + PublicStream + ".>",
	"$JS.API.CONSUMER.INFO." + PublicStream + ".>",
	"$JS.API.CONSUMER.MSG.NEXT." + PublicStream + ".>",
	"$JS.ACK." + PublicStream + ".>",
}

// serverUsers turns the passwords into the server's users.
func (u NATSUsers) serverUsers() []*server.User {
	all := []string{">"}
	return []*server.User{
		{Username: EngineUser, Password: u.Engine, Permissions: &server.Permissions{
			Publish: &server.SubjectPermission{Allow: all}, Subscribe: &server.SubjectPermission{Allow: all}}},
		{Username: SubscriberUser, Password: u.Subscriber, Permissions: &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: SubscriberPublishAllow},
			Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}}}},
	}
}

// LoadOrCreateNATSUsers reads the credentials file at path, creating it
// (owner-only, 0600) with two random passwords if it does not exist.
func LoadOrCreateNATSUsers(path string) (NATSUsers, error) {
	u, err := readNATSUsers(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return u, err
	}
	u = NATSUsers{Engine: randomSecret(), Subscriber: randomSecret()}
	b, _ := json.MarshalIndent(u, "", "  ")
	created, err := writeNewSecret("nats users", path, append(b, '\n'))
	switch {
	case err != nil:
		return NATSUsers{}, err
	case !created:
		return readNATSUsers(path)
	}
	return u, nil
}

func readNATSUsers(path string) (NATSUsers, error) {
	var u NATSUsers
	b, err := os.ReadFile(path)
	if err != nil {
		return u, fmt.Errorf("nats users: %w", err)
	}
	if err := json.Unmarshal(b, &u); err != nil {
		return u, fmt.Errorf("nats users %s: %w", path, err)
	}
	if len(u.Engine) < 16 || len(u.Subscriber) < 16 {
		return u, fmt.Errorf("nats users %s: each password (engine, subscriber) must be at least 16 characters", path)
	}
	if u.Engine == u.Subscriber {
		return u, fmt.Errorf("nats users %s: the engine and the subscriber must not share a password", path)
	}
	return u, nil
}

func randomSecret() string {
	b := make([]byte, 24)
	rand.Read(b)
	return hex.EncodeToString(b)
}
