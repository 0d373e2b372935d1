package discovery

//go:generate go tool stringer -type=EventKind,Phase -linecomment
