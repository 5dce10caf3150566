package vsa.spark.streaming

import java.nio.ByteBuffer
import java.nio.charset.StandardCharsets.UTF_8

import scala.collection.mutable.ArrayBuffer

import org.apache.kafka.clients.producer.{KafkaProducer, ProducerConfig, ProducerRecord}
import org.apache.kafka.common.serialization.StringSerializer

/** Writes text records to a topic with Kafka's own producer, in order, each with the partition and the timestamp
  * (CreateTime) its caller gives, if any: what Spark's Kafka sink cannot set.
  */
object KafkaSend {

  /** Sends the records framed in `records` to `topic` and waits until every record is acknowledged. `options` are Kafka
    * client settings (security…). Returns how many were sent.
    *
    * The records come framed in one array, not as lists of strings, because Py4J sends a list element by element, one
    * round trip each: 200,000 records took 100 s that way. Each record, big-endian: its key (an `Int` byte length, -1
    * for none, then UTF-8), its value (likewise), its partition (`Int`, -1: none) and its timestamp (`Long`, epoch ms,
    * -1: none).
    */
  def send(
      bootstrapServers: String,
      options: java.util.Map[String, String],
      topic: String,
      records: Array[Byte]
  ): Int = {
    val settings = new java.util.HashMap[String, Object](options)
    settings.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers)
    // A topic created by this write may answer NOT_LEADER until its leader is elected; the idempotent producer's
    // retries can then fail on sequence numbers. Plain retries with one request in flight keep the order without that.
    settings.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "false")
    settings.put(ProducerConfig.ACKS_CONFIG, "all")
    settings.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, "1")
    val producer = new KafkaProducer[String, String](settings, new StringSerializer, new StringSerializer)
    try {
      val sent = framed(records).map { case (key, value, partition, timestamp) =>
        producer.send(new ProducerRecord[String, String](topic, partition, timestamp, key, value))
      }
      producer.flush()
      sent.foreach(_.get())
      sent.size
    } finally producer.close()
  }

  /** The records of `bytes` (see [[send]]): key, value, partition and timestamp, each null when there is none. */
  def framed(bytes: Array[Byte]): Seq[(String, String, Integer, java.lang.Long)] = {
    val in = ByteBuffer.wrap(bytes)
    def text(): String = in.getInt() match {
      case -1 => null
      case length =>
        require(length >= 0 && length <= in.remaining, s"a text of $length bytes where ${in.remaining} are left")
        val value = new String(bytes, in.position(), length, UTF_8)
        in.position(in.position() + length)
        value
    }
    val records = ArrayBuffer.empty[(String, String, Integer, java.lang.Long)]
    while (in.hasRemaining) {
      val key = text()
      val value = text()
      val partition = in.getInt()
      val timestamp = in.getLong()
      records += ((key, value, if (partition < 0) null else partition, if (timestamp < 0) null else timestamp))
    }
    records.toSeq
  }
}
