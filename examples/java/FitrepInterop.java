import com.google.gson.Gson;
import io.fitrep.v1.AssignItemsRequest;
import io.fitrep.v1.AssignItemsResponse;
import io.fitrep.v1.Assignment;
import io.fitrep.v1.ConceptServiceGrpc;
import io.fitrep.v1.ExplainRequest;
import io.fitrep.v1.Explanation;
import io.fitrep.v1.ExtractConceptsRequest;
import io.fitrep.v1.ExtractConceptsResponse;
import io.fitrep.v1.IndexServiceGrpc;
import io.fitrep.v1.Item;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.stub.AbstractStub;
import io.grpc.stub.MetadataUtils;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Assigns items through both FITRep servers from Java.
 *
 * <p>Reads {"items": [{"id", "title", "text"}], "explain": [["a", "b"]]}, calls
 * ConceptService.ExtractConcepts, sends the embedded items it got back to IndexService.AssignItems
 * and prints one line per item, {@code <item_id> <cluster_id>}, then one {@code explain ...} line
 * per pair. Stubs are generated from protos/ at build time (scripts/test_interop.sh).
 */
public final class FitrepInterop {
  private static final Metadata.Key<String> REQUEST_ID =
      Metadata.Key.of("x-request-id", Metadata.ASCII_STRING_MARSHALLER);

  /** The items file, as Gson reads it. */
  static final class Input {
    List<Map<String, String>> items;
    List<List<String>> explain;
  }

  /** A deadline per call and the request id both servers log. */
  static <S extends AbstractStub<S>> S call(S stub, String requestId) {
    Metadata md = new Metadata();
    md.put(REQUEST_ID, requestId);
    return stub.withDeadlineAfter(60, TimeUnit.SECONDS)
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md));
  }

  public static void main(String[] args) throws Exception {
    String conceptAddr = "127.0.0.1:50051";
    String indexAddr = "127.0.0.1:50052";
    String itemsPath = "examples/interop_items.json";
    for (int i = 0; i + 1 < args.length; i += 2) {
      switch (args[i]) {
        case "--concept" -> conceptAddr = args[i + 1];
        case "--index" -> indexAddr = args[i + 1];
        case "--items" -> itemsPath = args[i + 1];
        default -> throw new IllegalArgumentException("unknown flag " + args[i]);
      }
    }
    Input in =
        new Gson()
            .fromJson(Files.readString(Path.of(itemsPath), StandardCharsets.UTF_8), Input.class);
    ExtractConceptsRequest.Builder extract =
        ExtractConceptsRequest.newBuilder().setRequestId("java-extract-1");
    for (Map<String, String> it : in.items) {
      extract.addItems(
          Item.newBuilder()
              .setId(it.get("id"))
              .setTitle(it.getOrDefault("title", ""))
              .setText(it.getOrDefault("text", "")));
    }

    ManagedChannel conceptChannel = ManagedChannelBuilder.forTarget(conceptAddr).usePlaintext().build();
    ManagedChannel indexChannel = ManagedChannelBuilder.forTarget(indexAddr).usePlaintext().build();
    try {
      var concepts = ConceptServiceGrpc.newBlockingStub(conceptChannel);
      var index = IndexServiceGrpc.newBlockingStub(indexChannel);

      ExtractConceptsResponse extracted =
          call(concepts, "java-extract-1").extractConcepts(extract.build());
      AssignItemsResponse assigned =
          call(index, "java-assign-1")
              .assignItems(
                  AssignItemsRequest.newBuilder()
                      .addAllItems(extracted.getItemsList())
                      .setRequestId("java-assign-1")
                      .build());
      for (Assignment a : assigned.getAssignmentsList()) {
        System.out.println(a.getItemId() + " " + a.getClusterId());
      }

      int n = 0;
      for (List<String> pair : in.explain) {
        Explanation e =
            call(index, "java-explain-" + ++n)
                .explain(
                    ExplainRequest.newBuilder().setItemA(pair.get(0)).setItemB(pair.get(1)).build());
        System.out.println(
            String.format(
                Locale.ROOT,
                "explain %s %s duplicate=%b score=%.6f clusters=%s,%s",
                e.getItemA(),
                e.getItemB(),
                e.getDuplicate(),
                e.getScore(),
                e.getClusterA(),
                e.getClusterB()));
      }
    } finally {
      conceptChannel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      indexChannel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }
}
