package app

import (
	"crypto/sha1"
	"encoding/binary"
	"slices"
	"strings"
)

// memberID computes a member's ID from its peer URLs and the cluster token
// the way etcd's membership.NewMember does, so a member gets the ID etcd
// would give it for the same flags.
func memberID(peerURLs []string, token string) uint64 {
	urls := slices.Clone(peerURLs)
	slices.Sort(urls)
	b := []byte(strings.Join(urls, ""))
	b = append(b, token...)
	hash := sha1.Sum(b)
	return binary.BigEndian.Uint64(hash[:8])
}

// clusterID computes the cluster ID from its members' IDs, as etcd's
// RaftCluster.genID does.
func clusterID(memberIDs []uint64) uint64 {
	ids := slices.Clone(memberIDs)
	slices.Sort(ids)
	b := make([]byte, 8*len(ids))
	for i, id := range ids {
		binary.BigEndian.PutUint64(b[8*i:], id)
	}
	hash := sha1.Sum(b)
	return binary.BigEndian.Uint64(hash[:8])
}
