package pid1

// network brings the network up from the handoff state.
func (i *Init) network() {
	if i.NetworkUp == nil {
		i.update(func(s *Status) { s.Network.State = "skipped" })
		return
	}
	i.netMu.Lock()
	defer i.netMu.Unlock()
	ns := i.NetworkUp(i.ctx, i.State, i.Log.Printf)
	i.update(func(s *Status) { s.Network = ns })
}
