package scoreboard.consumer;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Reads scoreboard topics and prints one JSON line per record:
 * {@code {"topic", "partition", "offset", "key", "fingerprint", "record", "value"}}, or {@code "error"} instead of
 * {@code "record"} and {@code "value"} for a value it cannot decode.
 *
 * <pre>
 * java -jar scoreboard-java-consumer.jar --bootstrap 127.0.0.1:9092 --api http://127.0.0.1:8000 \
 *     --topic scoreboard.score-changes.v1 [--topic ...] [--from-beginning | --start TOPIC:PARTITION:OFFSET ...] \
 *     [--until TOPIC:PARTITION:OFFSET ...] [--max-records N] [--idle-ms MS]
 * </pre>
 *
 * Without {@code --start} a partition is read from its beginning ({@code --from-beginning} says so explicitly).
 * It stops when every partition given {@code --until} has reached that offset (and no partition lacks one), after
 * {@code --max-records} records, or when nothing arrived for {@code --idle-ms} (default 10000).
 */
public final class Main {
    private static final ObjectMapper JSON = new ObjectMapper();

    private Main() {
    }

    private static TopicPartition partitionOf(String spec, Map<TopicPartition, Long> into) {
        int last = spec.lastIndexOf(':');
        int middle = spec.lastIndexOf(':', last - 1);
        if (middle <= 0) {
            throw new IllegalArgumentException("expected TOPIC:PARTITION:OFFSET, got " + spec);
        }
        TopicPartition partition = new TopicPartition(spec.substring(0, middle),
                Integer.parseInt(spec.substring(middle + 1, last)));
        into.put(partition, Long.parseLong(spec.substring(last + 1)));
        return partition;
    }

    public static void main(String[] args) throws IOException {
        String bootstrap = "127.0.0.1:9092";
        String api = "http://127.0.0.1:8000";
        List<String> topics = new ArrayList<>();
        Map<TopicPartition, Long> starts = new HashMap<>();
        Map<TopicPartition, Long> untils = new HashMap<>();
        long maxRecords = Long.MAX_VALUE;
        long idleMs = 10_000;
        for (int i = 0; i < args.length; i++) {
            String option = args[i];
            switch (option) {
                case "--from-beginning" -> starts.clear();
                case "--bootstrap" -> bootstrap = args[++i];
                case "--api" -> api = args[++i];
                case "--topic" -> topics.add(args[++i]);
                case "--start" -> partitionOf(args[++i], starts);
                case "--until" -> partitionOf(args[++i], untils);
                case "--max-records" -> maxRecords = Long.parseLong(args[++i]);
                case "--idle-ms" -> idleMs = Long.parseLong(args[++i]);
                default -> throw new IllegalArgumentException("unknown option " + option);
            }
        }
        if (topics.isEmpty()) {
            throw new IllegalArgumentException("give at least one --topic");
        }
        ScoreboardDecoder decoder = new ScoreboardDecoder(new HttpSchemaStore(api));
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);

        Properties config = new Properties();
        config.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        config.put(ConsumerConfig.CLIENT_ID_CONFIG, "scoreboard-java-consumer");
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(config, new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            List<TopicPartition> assigned = new ArrayList<>();
            for (String topic : topics) {
                for (PartitionInfo info : consumer.partitionsFor(topic)) {
                    assigned.add(new TopicPartition(topic, info.partition()));
                }
            }
            consumer.assign(assigned);
            Set<TopicPartition> pending = new HashSet<>();
            for (TopicPartition partition : assigned) {
                Long start = starts.get(partition);
                if (start != null) {
                    consumer.seek(partition, start);
                } else {
                    consumer.seekToBeginning(List.of(partition));
                }
                Long until = untils.get(partition);
                if (until == null || until > consumer.position(partition)) {
                    pending.add(partition);
                }
            }
            long printed = 0;
            long idleSince = System.currentTimeMillis();
            while (!pending.isEmpty() && printed < maxRecords && System.currentTimeMillis() - idleSince < idleMs) {
                var records = consumer.poll(Duration.ofMillis(500));
                if (!records.isEmpty()) {
                    idleSince = System.currentTimeMillis();
                }
                for (ConsumerRecord<byte[], byte[]> record : records) {
                    TopicPartition partition = new TopicPartition(record.topic(), record.partition());
                    Long until = untils.get(partition);
                    if (until != null && record.offset() >= until) {
                        pending.remove(partition);
                        continue;
                    }
                    out.println(JSON.writeValueAsString(line(decoder, record)));
                    printed++;
                    if (until != null && record.offset() + 1 >= until) {
                        pending.remove(partition);
                    }
                    if (printed >= maxRecords) {
                        break;
                    }
                }
                out.flush();
            }
        }
        out.flush();
    }

    private static ObjectNode line(ScoreboardDecoder decoder, ConsumerRecord<byte[], byte[]> record) {
        ObjectNode line = JSON.createObjectNode();
        line.put("topic", record.topic());
        line.put("partition", record.partition());
        line.put("offset", record.offset());
        line.put("key", record.key() == null ? null : new String(record.key(), StandardCharsets.UTF_8));
        byte[] value = record.value();
        if (value != null && value.length >= 10) {
            StringBuilder hex = new StringBuilder();
            for (int i = 2; i < 10; i++) {
                hex.append(String.format("%02x", value[i] & 0xff));
            }
            line.put("fingerprint", hex.toString());
        }
        try {
            GenericRecord decoded = decoder.decode(value);
            line.put("record", decoded.getSchema().getName());
            line.set("value", ScoreboardDecoder.toJson(decoded));
        } catch (IOException | RuntimeException e) {
            line.put("error", e.getClass().getSimpleName() + ": " + e.getMessage());
        }
        return line;
    }
}
