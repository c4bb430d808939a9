// Command fitrep-interop assigns items through both FITRep servers from Go.
//
// It reads {"items": [{"id", "title", "text"}], "explain": [["a", "b"]]}, calls
// ConceptService.ExtractConcepts, sends the embedded items it got back to IndexService.AssignItems
// and prints one line per item, `<item_id> <cluster_id>`, then one `explain ...` line per pair.
// Stubs are generated from protos/ at build time (scripts/test_interop.sh); Go 1.19, GOPATH mode.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	pb "github.com/fitrep/fitrep/gen/go/fitrep/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

type input struct {
	Items []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
		Text  string `json:"text"`
	} `json:"items"`
	Explain [][2]string `json:"explain"`
}

func dial(addr string) *grpc.ClientConn {
	// grpc-go 1.33 (Debian): WithInsecure is the plaintext option; loopback only.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := grpc.DialContext(ctx, addr, grpc.WithInsecure(), grpc.WithBlock())
	if err != nil {
		log.Fatalf("dial %s: %v", addr, err)
	}
	return conn
}

// call returns a context with a deadline and the request id both servers log.
func call(requestID string) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	return metadata.AppendToOutgoingContext(ctx, "x-request-id", requestID), cancel
}

func main() {
	conceptAddr := flag.String("concept", "127.0.0.1:50051", "ConceptService address")
	indexAddr := flag.String("index", "127.0.0.1:50052", "IndexService address")
	itemsPath := flag.String("items", "examples/interop_items.json", "items file")
	flag.Parse()

	raw, err := os.ReadFile(*itemsPath)
	if err != nil {
		log.Fatal(err)
	}
	var in input
	if err := json.Unmarshal(raw, &in); err != nil {
		log.Fatalf("%s: %v", *itemsPath, err)
	}
	items := make([]*pb.Item, 0, len(in.Items))
	for _, it := range in.Items {
		items = append(items, &pb.Item{Id: it.ID, Title: it.Title, Text: it.Text})
	}

	conceptConn, indexConn := dial(*conceptAddr), dial(*indexAddr)
	defer conceptConn.Close()
	defer indexConn.Close()
	concepts := pb.NewConceptServiceClient(conceptConn)
	index := pb.NewIndexServiceClient(indexConn)

	ctx, cancel := call("go-extract-1")
	extracted, err := concepts.ExtractConcepts(ctx, &pb.ExtractConceptsRequest{Items: items, RequestId: "go-extract-1"})
	cancel()
	if err != nil {
		log.Fatalf("ExtractConcepts: %v", err)
	}
	ctx, cancel = call("go-assign-1")
	assigned, err := index.AssignItems(ctx, &pb.AssignItemsRequest{Items: extracted.Items, RequestId: "go-assign-1"})
	cancel()
	if err != nil {
		log.Fatalf("AssignItems: %v", err)
	}
	for _, a := range assigned.Assignments {
		fmt.Printf("%s %s\n", a.ItemId, a.ClusterId)
	}

	for i, pair := range in.Explain {
		ctx, cancel = call(fmt.Sprintf("go-explain-%d", i+1))
		e, err := index.Explain(ctx, &pb.ExplainRequest{ItemA: pair[0], ItemB: pair[1]})
		cancel()
		if err != nil {
			log.Fatalf("Explain %s %s: %v", pair[0], pair[1], err)
		}
		fmt.Printf("explain %s %s duplicate=%t score=%.6f clusters=%s,%s\n",
			e.ItemA, e.ItemB, e.Duplicate, e.Score, e.ClusterA, e.ClusterB)
	}
}
