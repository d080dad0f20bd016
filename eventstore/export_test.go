package eventstore

// SetPerLoadSubscription switches Load back to a subscription per load,
// for measuring against it.
func (s *Store) SetPerLoadSubscription(on bool) { s.perLoadSub = on }
