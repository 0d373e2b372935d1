module github.com/nanolb/nanolb

go 1.25.0

require (
	github.com/dave/jennifer v1.7.1
	github.com/klauspost/cpuid/v2 v2.4.2
	github.com/miekg/dns v1.1.73
	github.com/puzpuzpuz/xsync/v3 v3.5.1
	golang.org/x/sys v0.47.0
)

require (
	golang.org/x/mod v0.38.0 // indirect
	golang.org/x/net v0.57.0 // indirect
	golang.org/x/sync v0.22.0 // indirect
	golang.org/x/tools v0.48.0 // indirect
)

tool golang.org/x/tools/cmd/stringer
