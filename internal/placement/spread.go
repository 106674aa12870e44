package placement

// Spread re-cuts the batches of one wave so that they fill the command slots that run them.
// The batches of one source → target pair are cut into a multiple of slots(batch) batches of
// sizes within one of each other, none larger than the largest batch given and none empty. A
// wave whose last round would run one batch while the other slots stand idle (9 batches of 100
// on 4 slots: 3 rounds, the last with one batch) takes as many rounds of smaller batches (12 of
// 75), so every slot carries the same number of users: a move's time is mostly its
// per-user cost, which batching does not save. Users keep their order, each in one batch.
func Spread(wave []Batch, slots func(Batch) int) []Batch {
	type pair struct {
		from, to string
		forced   bool
	}
	var order []pair
	groups := map[pair][]Batch{}
	for _, b := range wave {
		k := pair{b.From, b.To, b.Forced}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], b)
	}
	out := make([]Batch, 0, len(wave))
	for _, k := range order {
		out = append(out, recut(groups[k], slots(groups[k][0]))...)
	}
	return out
}

// recut cuts the users of same-pair batches into the smallest multiple of slots at least as many
// batches, as even as possible.
func recut(group []Batch, slots int) []Batch {
	var users []string
	for _, b := range group {
		users = append(users, b.Users...)
	}
	count := len(group)
	if slots > 1 {
		count = (count + slots - 1) / slots * slots
	}
	count = min(count, len(users))
	if count == len(group) || count == 0 {
		return group
	}
	out := make([]Batch, 0, count)
	for i := range count {
		lo, hi := i*len(users)/count, (i+1)*len(users)/count
		b := group[0]
		b.Users = users[lo:hi:hi]
		out = append(out, b)
	}
	return out
}
