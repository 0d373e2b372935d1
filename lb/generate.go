package lb

//go:generate go run ../gen -out .
//go:generate go tool stringer -type=EventKind,State,EjectReason,SubsetRule -linecomment
