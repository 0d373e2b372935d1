package nanolb

//go:generate go tool stringer -type=kernel -linecomment
