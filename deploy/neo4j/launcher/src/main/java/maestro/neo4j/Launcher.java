package maestro.neo4j;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.neo4j.cli.ExecutionContext;
import org.neo4j.commandline.admin.security.SetInitialPasswordCommand;
import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.driver.AuthTokens;
import org.neo4j.driver.Config;
import org.neo4j.driver.Driver;
import org.neo4j.driver.GraphDatabase;
import org.neo4j.driver.Logging;
import org.neo4j.driver.exceptions.SecurityException;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.io.ByteUnit;
import picocli.CommandLine;

/**
 * Runs a genuine Neo4j 5.26 Community DBMS (embedded API) with its Bolt server on loopback.
 *
 * <pre>
 *   java ... maestro.neo4j.Launcher --home DIR --port N        run until SIGTERM
 *   java ... maestro.neo4j.Launcher --probe --port N           exit 0 if Bolt answers RETURN 1
 * </pre>
 *
 * The password comes from the environment (MAESTRO_NEO4J_PASSWORD), never from the command line.
 * Once the DBMS is up and a query has gone through Bolt with authentication, the file
 * {@code DIR/ready} is written (atomically) with "pid port"; it is removed on shutdown.
 */
public final class Launcher {
    private static final String USER = "neo4j";

    public static void main(String[] args) throws Exception {
        Path home = null;
        int port = 7697;
        boolean probe = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--home" -> home = Path.of(args[++i]).toAbsolutePath();
                case "--port" -> port = Integer.parseInt(args[++i]);
                case "--probe" -> probe = true;
                default -> {
                    System.err.println("unknown argument: " + args[i]);
                    System.exit(2);
                }
            }
        }
        String password = System.getenv().getOrDefault("MAESTRO_NEO4J_PASSWORD", "maestro-test-pw");
        if (probe) {
            System.exit(probe(port, password, Duration.ofSeconds(5)) == Probe.OK ? 0 : 1);
        }
        if (home == null) {
            System.err.println("--home is required");
            System.exit(2);
        }
        run(home, port, password);
    }

    private static void run(Path home, int port, String password) throws Exception {
        Path ready = home.resolve("ready");
        Files.deleteIfExists(ready);
        Instant t0 = Instant.now();
        log("starting Neo4j 5.26 Community (embedded) home=" + home + " bolt=127.0.0.1:" + port);

        if (password.length() < 8) {
            throw new IllegalArgumentException("MAESTRO_NEO4J_PASSWORD must have at least 8 characters");
        }
        if (!Files.exists(home.resolve("data").resolve("databases").resolve("system"))) {
            setInitialPassword(home, password);
        }

        // 256 MiB suits the test graphs; a benchmark of a million fields wants the store in memory.
        long pageCacheMiB = Long.parseLong(System.getenv().getOrDefault("MAESTRO_NEO4J_PAGECACHE_MB", "256"));
        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
                .setConfig(GraphDatabaseSettings.default_listen_address, new SocketAddress("127.0.0.1"))
                .setConfig(GraphDatabaseSettings.default_advertised_address, new SocketAddress("127.0.0.1"))
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", port))
                .setConfig(BoltConnector.advertised_address, new SocketAddress("127.0.0.1", port))
                .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                .setConfig(HttpConnector.enabled, false)
                .setConfig(HttpsConnector.enabled, false)
                .setConfig(GraphDatabaseSettings.auth_enabled, true)
                .setConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.mebiBytes(pageCacheMiB))
                .setConfig(GraphDatabaseSettings.keep_logical_logs, "2 files")
                .setConfig(GraphDatabaseSettings.logical_log_rotation_threshold, ByteUnit.mebiBytes(32))
                .setConfig(GraphDatabaseSettings.udc_enabled, false) // no usage report (no network here anyway)
                // Bolt's Netty event loops otherwise wait a 5 s quiet period each on shutdown (10 s in all).
                .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 0)
                .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_timeout, Duration.ofSeconds(5))
                .build();

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            log("shutdown requested; stopping the DBMS");
            try {
                Files.deleteIfExists(ready);
            } catch (IOException ignored) {
                // best effort
            }
            try {
                dbms.shutdown();
                log("DBMS stopped cleanly");
            } catch (Throwable t) {
                log("error while stopping: " + t);
            } finally {
                stopped.countDown();
            }
        }, "maestro-neo4j-shutdown"));

        try {
            GraphDatabaseService db = dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
            if (!db.isAvailable(Duration.ofSeconds(60).toMillis())) {
                throw new IllegalStateException("database 'neo4j' did not become available");
            }
            db.executeTransactionally("RETURN 1");
            // The real check: a query over Bolt, through routing (neo4j://), with authentication.
            Probe probe = probe(port, password, Duration.ofSeconds(30));
            if (probe == Probe.AUTH_FAILED) {
                // The store predates this password (MAESTRO_NEO4J_PASSWORD changed): set it on `system`.
                alterPassword(dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME), password);
                probe = probe(port, password, Duration.ofSeconds(30));
            }
            if (probe != Probe.OK) {
                throw new IllegalStateException("Bolt on 127.0.0.1:" + port + " did not answer RETURN 1: " + probe);
            }
        } catch (Throwable t) {
            log("startup failed: " + t);
            t.printStackTrace(System.out);
            System.exit(1); // runs the shutdown hook, which stops the DBMS
        }

        // auth.ini (from setInitialPassword) has been read into `system` when it was created; not needed any more.
        Files.deleteIfExists(home.resolve("data").resolve("dbms").resolve("auth.ini"));

        Path tmp = home.resolve("ready.tmp");
        Files.writeString(tmp, ProcessHandle.current().pid() + " " + port + "\n", StandardCharsets.UTF_8);
        Files.move(tmp, ready, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        log("ready: neo4j://127.0.0.1:" + port + " (user neo4j) in "
                + Duration.between(t0, Instant.now()).toMillis() + " ms");
        stopped.await();
    }

    /**
     * First start of a store: the same as `neo4j-admin dbms set-initial-password` (writes data/dbms/auth.ini,
     * which the DBMS reads when it creates the `system` database), so no password change is required.
     */
    private static void setInitialPassword(Path home, String password) {
        int rc = new CommandLine(new SetInitialPasswordCommand(new ExecutionContext(home, home.resolve("conf"))))
                .execute(password);
        if (rc != 0) {
            throw new IllegalStateException("set-initial-password failed with exit code " + rc);
        }
        log("initial password of user neo4j set");
    }

    /** Later starts with another password: change it on `system` (embedded access needs no login). */
    private static void alterPassword(GraphDatabaseService system, String password) {
        system.executeTransactionally(
                "ALTER USER " + USER + " SET PASSWORD $pw CHANGE NOT REQUIRED", Map.of("pw", password));
        log("password of user neo4j changed to MAESTRO_NEO4J_PASSWORD");
    }

    private enum Probe { OK, AUTH_FAILED, NO_ANSWER }

    private static Probe probe(int port, String password, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        Throwable last = null;
        Config config = Config.builder()
                .withLogging(Logging.none())
                .withConnectionTimeout(2, TimeUnit.SECONDS)
                .withMaxTransactionRetryTime(0, TimeUnit.SECONDS)
                .build();
        do {
            try (Driver driver = GraphDatabase.driver("neo4j://127.0.0.1:" + port,
                    AuthTokens.basic(USER, password), config)) {
                long one = driver.executableQuery("RETURN 1 AS one").execute().records().get(0).get("one").asLong();
                if (one == 1) {
                    return Probe.OK;
                }
            } catch (SecurityException e) { // wrong password, or a password change is required
                System.err.println("bolt probe: " + e.getMessage());
                return Probe.AUTH_FAILED;
            } catch (Throwable t) {
                last = t;
            }
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return Probe.NO_ANSWER;
            }
        } while (System.nanoTime() < deadline);
        System.err.println("bolt probe failed: " + last);
        return Probe.NO_ANSWER;
    }

    private static void log(String msg) {
        System.out.println(Instant.now() + " [maestro-neo4j] " + msg);
        System.out.flush();
    }
}
