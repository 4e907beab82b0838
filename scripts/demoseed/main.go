// Command demoseed creates the demo bucket on a local S3 server and fills it
// with sample data. It is used by scripts/demo.sh (make demo); credentials
// come from the environment as for bucketfs itself.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/bucketfs/bucketfs/internal/objstore"
	"github.com/bucketfs/bucketfs/internal/objstore/s3"
)

func main() {
	endpoint := flag.String("endpoint-url", "", "S3 endpoint")
	bucket := flag.String("bucket", "demo-bucket", "bucket to create")
	freePort := flag.Bool("free-port", false, "print a free loopback TCP port and exit")
	flag.Parse()
	if *freePort {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, "demoseed:", err)
			os.Exit(1)
		}
		fmt.Println(ln.Addr().(*net.TCPAddr).Port)
		ln.Close()
		return
	}
	if err := run(*endpoint, *bucket); err != nil {
		fmt.Fprintln(os.Stderr, "demoseed:", err)
		os.Exit(1)
	}
}

func run(endpoint, bucket string) error {
	ctx := context.Background()
	cfg := s3.Config{Bucket: bucket, EndpointURL: endpoint, ForcePathStyle: true, Region: "us-east-1"}
	// The server may still be starting: retry for a while.
	var err error
	for i := 0; i < 100; i++ {
		if err = s3.CreateBucket(ctx, cfg); err == nil || strings.Contains(err.Error(), "BucketAlreadyOwnedByYou") {
			err = nil
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("create bucket: %w", err)
	}
	c, err := s3.New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	objects := map[string][]byte{
		"README.txt": []byte("Welcome to the bucketfs demo bucket.\n" +
			"Every file here is an object in the bucket demo-bucket on a local MinIO.\n"),
		"datasets/iris.csv":            []byte("sepal_length,sepal_width,petal_length,petal_width,species\n5.1,3.5,1.4,0.2,setosa\n7.0,3.2,4.7,1.4,versicolor\n6.3,3.3,6.0,2.5,virginica\n"),
		"datasets/logs/2026-11-01.log": []byte("12:00:01 job started\n12:00:09 job finished\n"),
		"datasets/logs/2026-11-02.log": []byte("12:00:02 job started\n12:00:07 job finished\n"),
		"results/.keep":                nil,
	}
	for i := 0; i < 100; i++ {
		objects[fmt.Sprintf("small-files/part-%03d.txt", i)] = []byte(fmt.Sprintf("record %d\n", i))
	}
	big := make([]byte, 64<<20)
	for i := range big {
		big[i] = byte(i*31 + i>>12)
	}
	objects["datasets/big.bin"] = big
	for key, body := range objects {
		if _, err := c.Put(ctx, objstore.PutInput{Key: key, Body: body}); err != nil {
			return fmt.Errorf("put %s: %w", key, err)
		}
	}
	return nil
}
