package vsa.spark.streaming

import scala.jdk.CollectionConverters._

import org.apache.kafka.clients.producer.{KafkaProducer, ProducerConfig, ProducerRecord}
import org.apache.kafka.common.serialization.StringSerializer

/** Writes text records to a topic with Kafka's own producer, in order, each with the partition and the timestamp
  * (CreateTime) its caller gives, if any: what Spark's Kafka sink cannot set.
  */
object KafkaSend {

  /** Sends `values` (with `keys`, `partitions` and `timestamps`, epoch ms, of the same length; a null key, a negative
    * partition or timestamp: none) to `topic` and waits until every record is acknowledged. `options` are Kafka client
    * settings (security…). Returns how many were sent.
    */
  def send(
      bootstrapServers: String,
      options: java.util.Map[String, String],
      topic: String,
      keys: java.util.List[String],
      values: java.util.List[String],
      partitions: java.util.List[java.lang.Number],
      timestamps: java.util.List[java.lang.Number]
  ): Int = {
    require(
      Seq(keys.size, partitions.size, timestamps.size).forall(_ == values.size),
      "one key, partition, timestamp per value"
    )
    val settings = new java.util.HashMap[String, Object](options)
    settings.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers)
    // A topic created by this write may answer NOT_LEADER until its leader is elected; the idempotent producer's
    // retries can then fail on sequence numbers. Plain retries with one request in flight keep the order without that.
    settings.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "false")
    settings.put(ProducerConfig.ACKS_CONFIG, "all")
    settings.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, "1")
    val producer = new KafkaProducer[String, String](settings, new StringSerializer, new StringSerializer)
    try {
      val sent = values.asScala.indices.map { i =>
        // Py4J passes a Python int as an Integer or a Long, by its size.
        val partition = Option(partitions.get(i)).map(_.intValue).filter(_ >= 0).map(Int.box).orNull
        val timestamp = Option(timestamps.get(i)).map(_.longValue).filter(_ >= 0).map(Long.box).orNull
        producer.send(new ProducerRecord[String, String](topic, partition, timestamp, keys.get(i), values.get(i)))
      }
      producer.flush()
      sent.foreach(_.get())
      sent.size
    } finally producer.close()
  }
}
