// Neo4j embedded (Community) side of the graph-traversal benchmark (engram_harness.bench.graph).
//
// Usage: java -cp 'lib/*:classes' Neo4jBench DATA_DIR DB_DIR PAGECACHE_MB
//
// Loads DATA_DIR/nodes.csv ("id,cat") and DATA_DIR/edges.csv ("src,dst,weight") into a fresh
// embedded database at DB_DIR, indexes :N(id), then prints one JSON line
//   {"event":"ready","version":...,"load_s":...,"nodes":...,"edges":...}
// and answers commands read from stdin, one per line, each with one JSON line on stdout:
//   run WORKLOAD THREADS STARTS_FILE   -> {"event":"run","workload":...,"threads":...,"wall_s":...,
//                                          "cpu_s":...,"lat_ns":[...],"results":[...]}
// (cpu_s: the CPU seconds of the threads running the queries, summed over the queries)
//   quit                               -> shuts the database down and exits
// STARTS_FILE holds one start node id per line; every start is queried once, by a pool of THREADS
// threads (1: the calling thread). results[i] is the query's count for starts[i] (the number of
// returned rows for the spreading-activation query). Failures print {"event":"error","message":...}.
// The Cypher text of each workload is below; the Python side documents what they compare.

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.graphdb.Label;
import org.neo4j.graphdb.Node;
import org.neo4j.graphdb.RelationshipType;
import org.neo4j.graphdb.Result;
import org.neo4j.graphdb.Transaction;

public final class Neo4jBench {
  private static final int BATCH = 50_000;  // rows per load transaction: bounded heap use

  private static final Map<String, String> QUERIES = new HashMap<>();

  static {
    QUERIES.put("one_hop_filter", "MATCH (a:N {id: $id})-[:E]->(b:N) WHERE b.cat = 0 RETURN count(b) AS c");
    // count(DISTINCT b) over a variable-length match: Neo4j plans a pruning BFS expand.
    QUERIES.put("two_hop", "MATCH (a:N {id: $id})-[:E*1..2]->(b:N) WHERE b <> a RETURN count(DISTINCT b) AS c");
    QUERIES.put("three_hop", "MATCH (a:N {id: $id})-[:E*1..3]->(b:N) WHERE b <> a RETURN count(DISTINCT b) AS c");
    // Weighted 3-hop expansion with the activation summed per node at every hop (the frontier
    // aggregation spreading activation does), top 10 by the third hop's activation.
    QUERIES.put(
        "spread",
        "MATCH (s:N {id: $id})-[r1:E]->(n1:N) WITH n1, sum(r1.w) AS a1 "
            + "MATCH (n1)-[r2:E]->(n2:N) WITH n2, sum(a1 * r2.w) AS a2 "
            + "MATCH (n2)-[r3:E]->(n3:N) WITH n3, sum(a2 * r3.w) AS a3 "
            + "RETURN n3.id AS id, a3 ORDER BY a3 DESC, id LIMIT 10");
  }

  private static final long T0 = System.nanoTime();
  // CPU time of the threads that run the queries (nanosecond clock; the process-wide figure is counted
  // in 10 ms ticks and includes the JIT compiler's and GC's threads).
  private static final java.lang.management.ThreadMXBean CPU = java.lang.management.ManagementFactory.getThreadMXBean();

  private Neo4jBench() {}

  /** Load phases on stderr (the runner keeps it in neo4j-stderr.log), with seconds since the JVM began. */
  private static void progress(String what) {
    System.err.printf("neo4jbench %.1f s: %s%n", (System.nanoTime() - T0) / 1e9, what);
  }

  private static String json(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", " ").replace("\r", " ") + "\"";
  }

  private static void emit(String line) {
    System.out.println(line);
    System.out.flush();
  }

  private static long[] readColumn(List<String> lines, int col) {
    long[] out = new long[lines.size()];
    for (int i = 0; i < out.length; i++) out[i] = Long.parseLong(lines.get(i).split(",")[col].trim());
    return out;
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 3) {
      System.err.println("usage: Neo4jBench DATA_DIR DB_DIR PAGECACHE_MB");
      System.exit(2);
    }
    Path data = Path.of(args[0]);
    Path dbDir = Path.of(args[1]);
    long pageCache = Long.parseLong(args[2]) * 1024L * 1024L;
    DatabaseManagementService dbms =
        new DatabaseManagementServiceBuilder(dbDir).setConfig(GraphDatabaseSettings.pagecache_memory, pageCache).build();
    Runtime.getRuntime().addShutdownHook(new Thread(dbms::shutdown));
    GraphDatabaseService db = dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
    progress("database started");
    try {
      long t0 = System.nanoTime();
      long[] nodeCount = new long[1];
      long edges = load(db, data, nodeCount);
      double loadS = (System.nanoTime() - t0) / 1e9;
      String version = "unknown";
      try (Transaction tx = db.beginTx(); Result r = tx.execute("CALL dbms.components() YIELD versions RETURN versions[0] AS v")) {
        if (r.hasNext()) version = String.valueOf(r.next().get("v"));
      }
      emit("{\"event\":\"ready\",\"version\":" + json(version) + ",\"load_s\":" + loadS + ",\"nodes\":" + nodeCount[0]
          + ",\"edges\":" + edges + "}");
      serve(db);
    } catch (Exception e) {
      emit("{\"event\":\"error\",\"message\":" + json(e.toString()) + "}");
      throw e;
    } finally {
      dbms.shutdown();
    }
  }

  private static long load(GraphDatabaseService db, Path data, long[] nodeCount) throws IOException {
    List<String> nodeLines = Files.readAllLines(data.resolve("nodes.csv"), StandardCharsets.UTF_8);
    long[] ids = readColumn(nodeLines, 0);
    long[] cats = readColumn(nodeLines, 1);
    nodeLines = null;
    long[] internal = new long[ids.length];  // node id -> Neo4j's internal id, to link without lookups
    Label label = Label.label("N");
    for (int start = 0; start < ids.length; start += BATCH) {
      try (Transaction tx = db.beginTx()) {
        for (int i = start; i < Math.min(ids.length, start + BATCH); i++) {
          Node n = tx.createNode(label);
          n.setProperty("id", ids[i]);
          n.setProperty("cat", cats[i]);
          internal[(int) ids[i]] = n.getId();
        }
        tx.commit();
      }
    }
    nodeCount[0] = ids.length;
    progress(ids.length + " nodes created");
    RelationshipType type = RelationshipType.withName("E");
    long edges = 0;
    try (BufferedReader in = Files.newBufferedReader(data.resolve("edges.csv"), StandardCharsets.UTF_8)) {
      String line = in.readLine();
      while (line != null) {
        try (Transaction tx = db.beginTx()) {
          for (int k = 0; k < BATCH && line != null; k++, line = in.readLine()) {
            String[] f = line.split(",");
            Node a = tx.getNodeById(internal[Integer.parseInt(f[0].trim())]);
            Node b = tx.getNodeById(internal[Integer.parseInt(f[1].trim())]);
            a.createRelationshipTo(b, type).setProperty("w", Double.parseDouble(f[2].trim()));
            edges++;
          }
          tx.commit();
        }
      }
    }
    progress(edges + " relationships created");
    try (Transaction tx = db.beginTx()) {
      tx.execute("CREATE INDEX n_id IF NOT EXISTS FOR (n:N) ON (n.id)").close();
      tx.commit();
    }
    try (Transaction tx = db.beginTx()) {
      tx.schema().awaitIndexesOnline(10, TimeUnit.MINUTES);
    }
    return edges;
  }

  private static long query(GraphDatabaseService db, String cypher, boolean rows, long id) {
    try (Transaction tx = db.beginTx(); Result r = tx.execute(cypher, Map.of("id", id))) {
      long n = 0;
      long c = 0;
      while (r.hasNext()) {
        Map<String, Object> row = r.next();
        n++;
        if (!rows) c = ((Number) row.get("c")).longValue();
      }
      return rows ? n : c;
    }
  }

  private static void serve(GraphDatabaseService db) throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    for (String line = in.readLine(); line != null; line = in.readLine()) {
      String[] cmd = line.trim().split("\\s+");
      if (cmd.length == 0 || cmd[0].isEmpty()) continue;
      if (cmd[0].equals("quit")) return;
      try {
        if (!cmd[0].equals("run") || cmd.length != 4) throw new IllegalArgumentException("bad command: " + line);
        String workload = cmd[1];
        String cypher = QUERIES.get(workload);
        if (cypher == null) throw new IllegalArgumentException("unknown workload " + workload);
        boolean rows = workload.equals("spread");
        int threads = Integer.parseInt(cmd[2]);
        List<String> startLines = Files.readAllLines(Path.of(cmd[3]), StandardCharsets.UTF_8);
        long[] starts = startLines.stream().filter(s -> !s.isBlank()).mapToLong(s -> Long.parseLong(s.trim())).toArray();
        long[] lat = new long[starts.length];
        long[] res = new long[starts.length];
        long[] cpuNs = new long[starts.length];
        long t0 = System.nanoTime();
        if (threads <= 1) {
          for (int i = 0; i < starts.length; i++) {
            long c0 = CPU.getCurrentThreadCpuTime();
            long q0 = System.nanoTime();
            res[i] = query(db, cypher, rows, starts[i]);
            lat[i] = System.nanoTime() - q0;
            cpuNs[i] = CPU.getCurrentThreadCpuTime() - c0;
          }
        } else {
          ExecutorService pool = Executors.newFixedThreadPool(threads);
          try {
            List<Future<?>> fs = new ArrayList<>();
            for (int i = 0; i < starts.length; i++) {
              final int k = i;
              fs.add(pool.submit(() -> {
                long c0 = CPU.getCurrentThreadCpuTime();
                long q0 = System.nanoTime();
                res[k] = query(db, cypher, rows, starts[k]);
                lat[k] = System.nanoTime() - q0;
                cpuNs[k] = CPU.getCurrentThreadCpuTime() - c0;
              }));
            }
            for (Future<?> f : fs) f.get();
          } finally {
            pool.shutdownNow();
          }
        }
        double wall = (System.nanoTime() - t0) / 1e9;
        double cpu = java.util.Arrays.stream(cpuNs).sum() / 1e9;
        StringBuilder sb = new StringBuilder();
        sb.append("{\"event\":\"run\",\"workload\":").append(json(workload)).append(",\"threads\":").append(threads);
        sb.append(",\"wall_s\":").append(wall).append(",\"cpu_s\":").append(cpu).append(",\"lat_ns\":[");
        for (int i = 0; i < lat.length; i++) sb.append(i == 0 ? "" : ",").append(lat[i]);
        sb.append("],\"results\":[");
        for (int i = 0; i < res.length; i++) sb.append(i == 0 ? "" : ",").append(res[i]);
        emit(sb.append("]}").toString());
      } catch (Exception e) {
        emit("{\"event\":\"error\",\"message\":" + json(e.toString()) + "}");
      }
    }
  }
}
