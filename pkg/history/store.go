package history

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsfleet/wsfleet/internal/ratelog"
	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/bus"
)

// epochKey is the stream metadata key holding the epoch.
const epochKey = "wsfleet_epoch"

// headerOp marks a binary message in the stream.
const headerOp = "Wsfleet-Op"

// Store is one worker's access to the history stream.
type Store struct {
	js      jetstream.JetStream
	stream  jetstream.Stream
	name    string
	prefix  string
	epoch   string
	rules   Rules
	perSubj int
	slots   chan struct{} // bounds the replays running at once

	log      *slog.Logger
	followed ratelog.Limiter // the follows' errors logged
	follows  followers
}

// Options configures Open.
type Options struct {
	// Prefix is the cluster's subject prefix (-cluster-name).
	Prefix string
	// Rules say which rooms are kept (-history).
	Rules Rules
	// Replicas is the stream's replicas (-history-replicas); default 1.
	Replicas int
	// MaxBytes bounds the stream's size (-history-max-bytes); 0: none.
	MaxBytes int64
	// Replays bounds the replays one worker runs at once; default 16.
	Replays int
	// Log is where Open says what it did not do (replicas left as they
	// are); nil: slog.Default().
	Log *slog.Logger
}

// maxFollowers bounds the stream's consumers. Every worker follows each
// room and each user with history that it holds a connection of (Follow,
// FollowUser: one ordered consumer each), so the count grows with the
// users online; the NATS server's default of 1,000 consumers per stream
// would leave the 1,001st user's inbox unfollowed. A client's joins are
// bounded per connection and per worker, which bounds this in practice.
const maxFollowers = 1 << 20

// Open finds the cluster's history stream, making it when missing, and
// fits its limits to the rules. It fails when the NATS server has no
// JetStream: the caller then runs without history.
func Open(ctx context.Context, nc *nats.Conn, o Options) (*Store, error) {
	if len(o.Rules) == 0 {
		return nil, errors.New("history: no rules")
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	if o.Replicas < 1 {
		o.Replicas = 1
	}
	if o.Replays < 1 {
		o.Replays = 16
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	count, age := o.Rules.limits()
	s := &Store{js: js, name: o.Prefix + "_history", prefix: o.Prefix + ".hist.", rules: o.Rules,
		perSubj: count, slots: make(chan struct{}, o.Replays), log: o.Log}
	s.follows.nc = nc
	cfg := jetstream.StreamConfig{
		Name: s.name, Subjects: []string{s.prefix + ">"}, Storage: jetstream.FileStorage,
		Replicas: o.Replicas, MaxMsgsPerSubject: int64(count), MaxAge: age,
		Discard: jetstream.DiscardOld, AllowDirect: true, MaxBytes: cmp.Or(o.MaxBytes, -1),
		MaxConsumers: maxFollowers,
	}
	st, err := js.Stream(ctx, s.name)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		cfg.Metadata = map[string]string{epochKey: newEpoch()}
		st, err = js.CreateStream(ctx, cfg)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) { // another worker made it first
			st, err = js.Stream(ctx, s.name)
		}
	case err == nil:
		old := st.CachedInfo().Config
		if old.Replicas != cfg.Replicas {
			// Moving a stream's data to more or fewer servers is the
			// operator's decision, not one of each worker starting with
			// its own flag (two hosts set apart would undo each other).
			o.Log.Warn("history: the stream's replicas differ from -history-replicas; left as they are",
				"stream", s.name, "replicas", old.Replicas, "-history-replicas", o.Replicas,
				"to change", fmt.Sprintf("nats stream edit %s --replicas %d", s.name, o.Replicas))
			cfg.Replicas = old.Replicas
		}
		if old.MaxMsgsPerSubject != cfg.MaxMsgsPerSubject || old.MaxAge != cfg.MaxAge || old.MaxBytes != cfg.MaxBytes ||
			old.MaxConsumers != cfg.MaxConsumers {
			cfg.Metadata = old.Metadata
			if _, uerr := js.UpdateStream(ctx, cfg); uerr != nil {
				return nil, fmt.Errorf("history: update stream %s: %w", s.name, uerr)
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("history: stream %s: %w", s.name, replicasError(err, o.Replicas))
	}
	s.stream = st
	s.epoch = st.CachedInfo().Config.Metadata[epochKey]
	if s.epoch == "" {
		return nil, fmt.Errorf("history: stream %s has no %s in its metadata", s.name, epochKey)
	}
	return s, nil
}

func newEpoch() string {
	b := make([]byte, 8)
	rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// Epoch is the history's epoch.
func (s *Store) Epoch() string { return s.epoch }

// Has reports whether room is kept.
func (s *Store) Has(room string) bool { return s.room(room).ok }

// HasUser reports whether the messages to user uid are kept.
func (s *Store) HasUser(uid string) bool { return s.user(uid).ok }

// key is one history: a room's or a user's, its subject and its rule.
type key struct {
	subj, name string
	rule       Rule
	ok         bool // a rule matched: kept
}

// room is room's history: subject "<prefix>.hist.<room's token>".
func (s *Store) room(room string) key {
	r, ok := s.rules.Match(room)
	return key{subj: s.prefix + bus.Token(room), name: room, rule: r, ok: ok}
}

// user is uid's history: subject "<prefix>.hist.@<uid's token>". A token
// never starts with '@' (bus.Token), so no room's subject is a user's.
func (s *Store) user(uid string) key {
	r, ok := s.rules.MatchUser(uid)
	return key{subj: s.prefix + "@" + bus.Token(uid), name: "@" + uid, rule: r, ok: ok}
}

// Keep stores m in room's history and returns its position.
func (s *Store) Keep(ctx context.Context, room string, m app.Message) (app.Position, error) {
	return s.KeepOnce(ctx, room, m, "")
}

// NewKeepID returns a message id for KeepOnce.
func NewKeepID() string { return newEpoch() + newEpoch() }

// KeepOnce is Keep with a message id (NewKeepID): JetStream keeps the
// message once however often KeepOnce is called with the same id within
// the stream's duplicate window (two minutes), so a keep that failed with
// an error Transient accepts (the ack lost, no stream leader yet) may be
// tried again without a risk of doubling it. An empty id is Keep.
func (s *Store) KeepOnce(ctx context.Context, room string, m app.Message, id string) (app.Position, error) {
	return s.keep(ctx, s.room(room), m, id)
}

// KeepUser stores m in user uid's history and returns its position.
func (s *Store) KeepUser(ctx context.Context, uid string, m app.Message) (app.Position, error) {
	return s.keep(ctx, s.user(uid), m, "")
}

func (s *Store) keep(ctx context.Context, k key, m app.Message, id string) (app.Position, error) {
	nm := &nats.Msg{Subject: k.subj, Data: m.Data, Header: nats.Header{}}
	if m.Binary {
		nm.Header.Set(headerOp, "binary")
	}
	var opts []jetstream.PublishOpt
	if id != "" {
		opts = append(opts, jetstream.WithMsgID(id))
	}
	ack, err := s.js.PublishMsg(ctx, nm, opts...)
	if err != nil {
		return app.Position{}, fmt.Errorf("history: keep in %q: %w", k.name, err)
	}
	return app.Position{Offset: ack.Sequence, Epoch: s.epoch}, nil
}

// Current is room's position: its last kept message's.
func (s *Store) Current(ctx context.Context, room string) (app.Position, error) {
	return s.current(ctx, s.room(room))
}

// CurrentUser is user uid's position: the last kept message's to it.
func (s *Store) CurrentUser(ctx context.Context, uid string) (app.Position, error) {
	return s.current(ctx, s.user(uid))
}

func (s *Store) current(ctx context.Context, k key) (app.Position, error) {
	m, err := s.stream.GetLastMsgForSubject(ctx, k.subj)
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return app.Position{Epoch: s.epoch}, nil
	case err != nil:
		return app.Position{}, fmt.Errorf("history: %q: %w", k.name, err)
	}
	return app.Position{Offset: m.Sequence, Epoch: s.epoch}, nil
}

// Follow delivers room's messages kept from now on, in offset order, to fn
// (on a goroutine of the JetStream client's), until stop is called. It
// returns once the messages kept after its return will reach fn.
func (s *Store) Follow(ctx context.Context, room string, fn func(app.Kept)) (stop func(), err error) {
	return s.follow(ctx, s.room(room), fn)
}

// FollowUser is Follow for the messages to user uid.
func (s *Store) FollowUser(ctx context.Context, uid string, fn func(app.Kept)) (stop func(), err error) {
	return s.follow(ctx, s.user(uid), fn)
}

// FollowAfter is Follow from the message after offset after on: with
// after the room's Current offset, no message kept meanwhile is missed.
func (s *Store) FollowAfter(ctx context.Context, room string, after uint64, fn func(app.Kept)) (stop func(), err error) {
	return s.follow(ctx, s.room(room), fn, after)
}

// FollowUserAfter is FollowAfter for the messages to user uid.
func (s *Store) FollowUserAfter(ctx context.Context, uid string, after uint64, fn func(app.Kept)) (stop func(), err error) {
	return s.follow(ctx, s.user(uid), fn, after)
}

// Transient reports whether a keep's error may go away by itself: no
// stream leader to answer (a JetStream cluster electing one after a host
// died), no answer in time, the client reconnecting to another server.
func Transient(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrConnectionReconnecting) || errors.Is(err, nats.ErrDisconnected) ||
		(errors.As(err, &apiErr) && apiErr.Code == 503)
}

// JetStream's errors for a stream with more replicas than the cluster has
// servers for: a single server, too few peers, not enough resources.
const (
	errCodeReplicasNotSupported = 10074
	errCodeNoPeers              = 10005
	errCodeInsufficient         = 10023
)

// replicasError names -history-replicas in err when it says the stream's
// replicas cannot be placed.
func replicasError(err error, replicas int) error {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return err
	}
	switch apiErr.ErrorCode {
	case errCodeReplicasNotSupported:
		return fmt.Errorf("-history-replicas %d needs a NATS cluster with JetStream on %d servers or more; this server is not clustered: %w", replicas, replicas, err)
	case errCodeNoPeers, errCodeInsufficient:
		return fmt.Errorf("-history-replicas %d needs JetStream on %d servers of the NATS cluster (fewer are up, or they lack room): %w", replicas, replicas, err)
	}
	return err
}

// Retryable reports whether Open's error may go away by itself (a JetStream
// cluster electing its leader), as opposed to a server without JetStream.
func Retryable(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeReplicasNotSupported {
		return false // a server that is not clustered stays so
	}
	return !errors.Is(err, jetstream.ErrJetStreamNotEnabled) && !errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) &&
		!errors.Is(err, nats.ErrNoResponders) && !errors.Is(err, jetstream.ErrNoStreamResponse)
}
