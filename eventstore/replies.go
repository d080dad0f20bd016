package eventstore

import (
	"strconv"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
)

// replies routes the answers to the store's direct gets to the loads
// waiting for them, through one subscription on a wildcard inbox for the
// store's life. A subscription per load (nats.go's default sync
// subscription) allocated a 64k-slot channel (512 KiB) and cost the server
// a subscribe and an unsubscribe every time: 5.6% of serve's CPU at 400
// commands/s (issue 17). Each load takes a token, the last token of its
// reply subject, and a channel with room for a whole batch, so the shared
// handler never blocks.
type replies struct {
	once    sync.Once
	err     error
	prefix  string // "_INBOX.<nuid>."
	sub     *nats.Subscription
	mu      sync.Mutex
	next    uint64
	waiting map[string]chan *nats.Msg
}

// replyRoom is a waiter's channel capacity: a batch and its end-of-batch
// marker (or a single status reply), with a spare.
const replyRoom = loadBatch + 2

// start subscribes once, on first use.
func (r *replies) start(nc *nats.Conn) error {
	r.once.Do(func() {
		r.prefix = nc.NewInbox() + "."
		r.waiting = map[string]chan *nats.Msg{}
		r.sub, r.err = nc.Subscribe(r.prefix+"*", r.deliver)
		if r.err == nil {
			// The handler hands each message on without waiting; let a
			// burst of replies queue rather than be dropped as a slow
			// consumer.
			r.err = r.sub.SetPendingLimits(-1, -1)
		}
	})
	return r.err
}

func (r *replies) deliver(m *nats.Msg) {
	token := strings.TrimPrefix(m.Subject, r.prefix)
	r.mu.Lock()
	defer r.mu.Unlock()
	if ch, ok := r.waiting[token]; ok {
		select {
		case ch <- m:
		default: // more than a batch: the waiter will see a short batch and time out
		}
	}
	// A reply for a load that has given up (its context ended) is dropped.
}

// open registers a waiter: the reply subject to ask with, the channel its
// answers arrive on, and the function that deregisters it.
func (r *replies) open(nc *nats.Conn) (string, <-chan *nats.Msg, func(), error) {
	if err := r.start(nc); err != nil {
		return "", nil, nil, err
	}
	ch := make(chan *nats.Msg, replyRoom)
	r.mu.Lock()
	r.next++
	token := strconv.FormatUint(r.next, 36)
	r.waiting[token] = ch
	r.mu.Unlock()
	return r.prefix + token, ch, func() {
		r.mu.Lock()
		delete(r.waiting, token)
		r.mu.Unlock()
	}, nil
}
