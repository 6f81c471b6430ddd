package controller

import (
	"cmp"
	"slices"
)

// liveBroker is what the heartbeat table knows of a broker that is alive.
type liveBroker struct {
	ID               int64
	Epoch            int32 // its last master epoch
	MaxOffset        int64 // end of its commit log
	ElectionPriority int32 // lower is preferred among equals
}

// electInput is everything an election decides from.
type electInput struct {
	syncState []int64 // the SyncStateSet, tried first
	all       []int64 // every registered broker, tried second; nil unless enableElectUncleanMaster
	oldMaster int64   // NoMaster when none
	prefer    int64   // an admin's designated broker; NoMaster when none
	alive     func(id int64) (liveBroker, bool)
}

// elect picks the new master as upstream's DefaultElectPolicy does: among
// the alive members of the SyncStateSet (then, when unclean elections are
// allowed, of every replica), keep the old master if it still qualifies
// and nobody else is designated, else take the designated broker if it
// qualifies (or nobody), else the one with the newest epoch, then the
// longest log, then the lowest election priority, then the lowest id. It
// returns NoMaster when nobody qualifies.
func elect(in electInput) int64 {
	if m := electAmong(in.syncState, in); m != NoMaster {
		return m
	}
	return electAmong(in.all, in)
}

func electAmong(ids []int64, in electInput) int64 {
	var cands []liveBroker
	for _, id := range ids {
		if lb, ok := in.alive(id); ok {
			lb.ID = id
			cands = append(cands, lb)
		}
	}
	if len(cands) == 0 {
		return NoMaster
	}
	has := func(id int64) bool {
		return slices.ContainsFunc(cands, func(c liveBroker) bool { return c.ID == id })
	}
	if in.oldMaster != NoMaster && has(in.oldMaster) && (in.prefer == NoMaster || in.prefer == in.oldMaster) {
		return in.oldMaster
	}
	if in.prefer != NoMaster {
		if has(in.prefer) {
			return in.prefer
		}
		return NoMaster
	}
	best := slices.MinFunc(cands, func(a, b liveBroker) int {
		return cmp.Or(
			cmp.Compare(b.Epoch, a.Epoch),
			cmp.Compare(b.MaxOffset, a.MaxOffset),
			cmp.Compare(a.ElectionPriority, b.ElectionPriority),
			cmp.Compare(a.ID, b.ID),
		)
	})
	return best.ID
}
