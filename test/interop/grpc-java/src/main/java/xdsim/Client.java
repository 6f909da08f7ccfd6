// A proxyless grpc-java client for xdsim's interop tests: it resolves xds:///<target> through the
// control plane named by GRPC_XDS_BOOTSTRAP_CONFIG and calls /xdsim.test.Echo/Who, whose reply is
// the name of the backend that served it. Driven over stdin, one command per line (as the grpc-go
// client in test/interop/grpc-go):
//
//   tally <n>   make n RPCs, print {"<backend>": count, ...} (failures as "error:<code>")
//   quit        exit
package xdsim;

import io.grpc.CallOptions;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.stub.ClientCalls;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

public final class Client {
  /** Message bodies as they are: the Echo service has no proto. */
  static final class Raw implements MethodDescriptor.Marshaller<byte[]> {
    @Override
    public InputStream stream(byte[] value) {
      return new ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(InputStream stream) {
      try {
        return stream.readAllBytes();
      } catch (IOException e) {
        throw new RuntimeException(e);
      }
    }
  }

  static final MethodDescriptor<byte[], byte[]> WHO =
      MethodDescriptor.<byte[], byte[]>newBuilder()
          .setType(MethodDescriptor.MethodType.UNARY)
          .setFullMethodName("xdsim.test.Echo/Who")
          .setRequestMarshaller(new Raw())
          .setResponseMarshaller(new Raw())
          .build();

  static Map<String, Integer> tally(ManagedChannel channel, int n, long timeoutMs) {
    Map<String, Integer> counts = new TreeMap<>();
    final int parallel = 20;
    for (int i = 0; i < n; i += parallel) {
      List<com.google.common.util.concurrent.ListenableFuture<byte[]>> batch = new ArrayList<>();
      for (int j = i; j < n && j < i + parallel; j++) {
        batch.add(
            ClientCalls.futureUnaryCall(
                channel.newCall(WHO, CallOptions.DEFAULT.withDeadlineAfter(timeoutMs, TimeUnit.MILLISECONDS)),
                new byte[0]));
      }
      for (var f : batch) {
        String r;
        try {
          r = new String(f.get(), StandardCharsets.UTF_8);
        } catch (Exception e) {
          r = "error:" + Status.fromThrowable(e).getCode().name();
        }
        counts.merge(r, 1, Integer::sum);
      }
    }
    return counts;
  }

  static String json(Map<String, Integer> m) {
    StringBuilder sb = new StringBuilder("{");
    boolean first = true;
    for (var e : m.entrySet()) {
      if (!first) sb.append(',');
      first = false;
      sb.append('"').append(e.getKey().replace("\\", "\\\\").replace("\"", "\\\"")).append("\":").append(e.getValue());
    }
    return sb.append('}').toString();
  }

  public static void main(String[] args) throws Exception {
    String target = null;
    long timeoutMs = 5000;
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("-target") && i + 1 < args.length) target = args[++i];
      else if (args[i].equals("-timeout-ms") && i + 1 < args.length) timeoutMs = Long.parseLong(args[++i]);
    }
    if (target == null) {
      System.err.println("-target is required");
      System.exit(2);
    }
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    ManagedChannel channel = Grpc.newChannelBuilder(target, InsecureChannelCredentials.create()).build();
    try {
      out.println("{\"ready\":true}");
      BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
      String line;
      while ((line = in.readLine()) != null) {
        String[] fields = line.trim().split("\\s+");
        if (fields.length == 0 || fields[0].isEmpty()) continue;
        switch (fields[0]) {
          case "tally" -> {
            int n = 1;
            if (fields.length > 1) {
              try {
                n = Math.max(1, Integer.parseInt(fields[1]));
              } catch (NumberFormatException ignored) {
                // keep 1
              }
            }
            out.println(json(tally(channel, n, timeoutMs)));
          }
          case "quit" -> {
            return;
          }
          default -> System.err.println("unknown command: " + fields[0]);
        }
      }
    } finally {
      channel.shutdownNow();
      channel.awaitTermination(5, TimeUnit.SECONDS);
      // grpc-xds keeps non-daemon threads for the xDS client: leave now.
      System.exit(0);
    }
  }
}
