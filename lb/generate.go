package lb

//go:generate go run ../gen -out .
