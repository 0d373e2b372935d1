module github.com/nanolb/nanolb/lbetcd

go 1.25.0

replace github.com/nanolb/nanolb => ../

require (
	github.com/nanolb/nanolb v0.0.0-00010101000000-000000000000
	go.etcd.io/etcd/api/v3 v3.5.33
	go.etcd.io/etcd/client/v3 v3.5.33
	go.uber.org/zap v1.17.0
	google.golang.org/grpc v1.82.1
)

require (
	github.com/coreos/go-semver v0.3.0 // indirect
	github.com/coreos/go-systemd/v22 v22.3.2 // indirect
	github.com/gogo/protobuf v1.3.2 // indirect
	github.com/golang/protobuf v1.5.4 // indirect
	github.com/klauspost/cpuid/v2 v2.4.2 // indirect
	github.com/puzpuzpuz/xsync/v3 v3.5.1 // indirect
	go.etcd.io/etcd/client/pkg/v3 v3.5.33 // indirect
	go.uber.org/atomic v1.7.0 // indirect
	go.uber.org/multierr v1.6.0 // indirect
	golang.org/x/net v0.57.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
	golang.org/x/text v0.40.0 // indirect
	google.golang.org/genproto/googleapis/api v0.0.0-20260414002931-afd174a4e478 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260414002931-afd174a4e478 // indirect
	google.golang.org/protobuf v1.36.11 // indirect
)
