package scoreboard.consumer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.message.SchemaStore;

/**
 * Writer schemas by fingerprint, fetched once each from {@code GET {api}/v1/schemas/{fingerprint}} and kept:
 * a released schema never changes. The fingerprint in the URL is the hex of the 8 bytes after {@code C3 01},
 * as written (little-endian), which is how Avro's {@code long} fingerprint is laid out in the header.
 */
public final class HttpSchemaStore implements SchemaStore {
    private final String api;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final Map<Long, Schema> cache = new ConcurrentHashMap<>();

    public HttpSchemaStore(String api) {
        this.api = api.endsWith("/") ? api.substring(0, api.length() - 1) : api;
    }

    /** The 16 hex digits of a fingerprint as its 8 bytes appear in a record. */
    public static String hex(long fingerprint) {
        byte[] bytes = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(fingerprint).array();
        return HexFormat.of().formatHex(bytes);
    }

    /** The fingerprint whose bytes, as written, are these 16 hex digits. */
    public static long fingerprint(String hex) {
        return ByteBuffer.wrap(HexFormat.of().parseHex(hex)).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    /** The writer schema, or null when the api knows no schema with this fingerprint (Avro then throws). */
    @Override
    public Schema findByFingerprint(long fingerprint) {
        return cache.computeIfAbsent(fingerprint, this::fetch);
    }

    /** The body of a GET below the api, or null on 404. */
    String get(String path) {
        HttpRequest request = HttpRequest.newBuilder(URI.create(api + path)).timeout(Duration.ofSeconds(10))
                .header("Accept", "application/json").GET().build();
        try {
            HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() == 404) {
                return null;
            }
            if (response.statusCode() != 200) {
                throw new IOException("GET " + request.uri() + ": HTTP " + response.statusCode());
            }
            return response.body();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private Schema fetch(long fingerprint) {
        String body = get("/v1/schemas/" + hex(fingerprint));
        if (body == null) {
            return null;
        }
        Schema schema = new Schema.Parser().parse(body);
        long actual = SchemaNormalization.parsingFingerprint64(schema);
        if (actual != fingerprint) {  // never trust a schema that is not the one the record names
            throw new IllegalStateException("the api answered " + hex(fingerprint) + " with a schema whose fingerprint is "
                    + hex(actual));
        }
        return schema;
    }
}
