package scoreboard.consumer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.MissingSchemaException;

/**
 * Decodes any record value of the scoreboard topics (Avro single-object encoding) into a GenericRecord of the
 * current schema of its record name: the newest version {@code GET /v1/schemas} lists. A record written with an
 * older version is resolved into it by Avro (fields added since get their defaults).
 */
public final class ScoreboardDecoder {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpSchemaStore store;
    private final Map<String, Schema> readers = new HashMap<>();
    private final Map<String, BinaryMessageDecoder<GenericRecord>> decoders = new HashMap<>();

    public ScoreboardDecoder(HttpSchemaStore store) throws IOException {
        this.store = store;
        JsonNode listed = JSON.readTree(store.get("/v1/schemas")).get("schemas");
        Map<String, Integer> newest = new HashMap<>();
        Map<String, String> fingerprints = new HashMap<>();
        for (JsonNode kept : listed) {
            String name = kept.get("name").asText();
            int version = kept.get("version").asInt();
            if (version > newest.getOrDefault(name, 0)) {
                newest.put(name, version);
                fingerprints.put(name, kept.get("fingerprint").asText());
            }
        }
        for (Map.Entry<String, String> current : fingerprints.entrySet()) {
            readers.put(current.getKey(), store.findByFingerprint(HttpSchemaStore.fingerprint(current.getValue())));
        }
    }

    /** The writer schema a single-object encoded value names (fetched on first sight). */
    public Schema writerOf(byte[] value) {
        if (value == null || value.length < 10 || (value[0] & 0xff) != 0xC3 || value[1] != 0x01) {
            throw new IllegalArgumentException("not Avro single-object encoding (no C3 01 marker)");
        }
        long fingerprint = ByteBuffer.wrap(value, 2, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        Schema writer = store.findByFingerprint(fingerprint);
        if (writer == null) {
            throw new MissingSchemaException("no schema has the fingerprint " + HttpSchemaStore.hex(fingerprint));
        }
        return writer;
    }

    /** The value as a record of the current schema of its name (or of its writer schema if the api lists none). */
    public GenericRecord decode(byte[] value) throws IOException {
        String name = writerOf(value).getName();
        BinaryMessageDecoder<GenericRecord> decoder = decoders.computeIfAbsent(name, this::decoderFor);
        return decoder.decode(value);
    }

    private BinaryMessageDecoder<GenericRecord> decoderFor(String name) {
        Schema reader = readers.get(name);
        if (reader == null) {
            throw new MissingSchemaException("GET /v1/schemas lists no current schema of " + name);
        }
        return new BinaryMessageDecoder<>(GenericData.get(), reader, store);
    }

    /** A GenericRecord as a JSON tree (GenericData renders records, arrays, strings and numbers as JSON). */
    public static JsonNode toJson(GenericRecord record) throws IOException {
        return JSON.readTree(GenericData.get().toString(record));
    }
}
