package lbetcd_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/nanolb/nanolb/lb"
	"github.com/nanolb/nanolb/lb/discovery"
	"github.com/nanolb/nanolb/lbetcd"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// The three value forms a key under the prefix may hold.
func ExampleParseValue() {
	for _, v := range []string{
		`{"addr":"10.0.0.1:8080","weight":2,"zone":"us-east-1a"}`,
		`"10.0.0.2:8080"`,
		`10.0.0.3:8080`,
		`10.0.0.4`,
	} {
		ep, err := lbetcd.ParseValue([]byte(v))
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%s weight %d zone %q\n", ep.Addr, ep.Weight, ep.Zone)
	}
	// Output:
	// 10.0.0.1:8080 weight 2 zone "us-east-1a"
	// 10.0.0.2:8080 weight 0 zone ""
	// 10.0.0.3:8080 weight 0 zone ""
	// lbetcd: invalid endpoint value: address "10.0.0.4" is not host:port: address 10.0.0.4: missing port in address
}

// A client keeps a pool in step with the services registered under
// /services/users/. (This Example runs against the etcd the package's tests
// start; `go test` skips it when there is no etcd binary.)
func ExampleResolver() {
	client, err := clientv3.New(clientv3.Config{Endpoints: []string{exampleEtcd}, DialTimeout: 5 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	ctx := context.Background()

	// Two instances of the service register themselves.
	const prefix = "/services/users/"
	for _, ep := range []lb.Endpoint{{Addr: "127.0.0.1:8081", Weight: 1}, {Addr: "127.0.0.1:8082", Weight: 2}} {
		reg, err := lbetcd.Register(ctx, client, prefix, ep, 10*time.Second)
		if err != nil {
			log.Fatal(err)
		}
		defer reg.Close()
	}

	// The client: a pool, and a Runner that follows the prefix's watch.
	pool, err := lb.New(lb.Config{Policy: lb.WeightedRoundRobin})
	if err != nil {
		log.Fatal(err)
	}
	res, err := lbetcd.NewResolver(client, prefix, lbetcd.Config{})
	if err != nil {
		log.Fatal(err)
	}
	run, err := discovery.Start(pool, res, discovery.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer run.Close()
	ready, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := run.WaitForReady(ready); err != nil {
		log.Fatal(err)
	}
	for _, st := range pool.Endpoints() {
		fmt.Println(st.Addr, "weight", st.Weight)
	}
	// Output:
	// 127.0.0.1:8081 weight 1
	// 127.0.0.1:8082 weight 2
}

// A service registers itself at start and deregisters on shutdown; its key
// also goes if it dies, when the lease's TTL runs out.
func ExampleRegister() {
	client, err := clientv3.New(clientv3.Config{Endpoints: []string{exampleEtcd}, DialTimeout: 5 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	ctx := context.Background()

	ep := lb.Endpoint{Addr: "127.0.0.1:9090", Weight: 3, Zone: "us-east-1a"}
	reg, err := lbetcd.Register(ctx, client, "/services/orders/", ep, 10*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	resp, err := client.Get(ctx, reg.Key())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s = %s\n", resp.Kvs[0].Key, resp.Kvs[0].Value)

	if err := reg.Close(); err != nil { // deregister: revokes the lease
		log.Fatal(err)
	}
	resp, err = client.Get(ctx, reg.Key())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("after Close:", len(resp.Kvs), "keys")
	// Output:
	// /services/orders/127.0.0.1:9090 = {"addr":"127.0.0.1:9090","weight":3,"zone":"us-east-1a"}
	// after Close: 0 keys
}
