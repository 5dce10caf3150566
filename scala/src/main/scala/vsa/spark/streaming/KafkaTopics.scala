package vsa.spark.streaming

import java.util.concurrent.{ExecutionException, TimeUnit}

import scala.jdk.CollectionConverters._

import org.apache.kafka.clients.admin.{Admin, AdminClientConfig}
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException

/** What the job needs to know of its topics before it starts: their partitions, one Kafka source each (so the watermark
  * follows the slowest partition).
  */
object KafkaTopics {

  /** The partition numbers of `topic`, ascending. `options` are Kafka client settings (security…), as the job's sources
    * get them. A topic that does not exist is an `IllegalArgumentException` naming it.
    */
  def partitions(
      bootstrapServers: String,
      options: java.util.Map[String, String],
      topic: String,
      timeoutMs: Long
  ): Array[Int] = {
    val settings = new java.util.HashMap[String, Object](options)
    settings.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers)
    settings.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, Int.box(timeoutMs.toInt))
    settings.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, Int.box(timeoutMs.toInt))
    val admin = Admin.create(settings)
    try {
      val described =
        admin.describeTopics(java.util.List.of(topic)).allTopicNames().get(timeoutMs, TimeUnit.MILLISECONDS)
      described.get(topic).partitions().asScala.map(_.partition()).sorted.toArray
    } catch {
      case e: ExecutionException if e.getCause.isInstanceOf[UnknownTopicOrPartitionException] =>
        throw new IllegalArgumentException(s"Kafka topic '$topic' does not exist at $bootstrapServers", e)
    } finally admin.close()
  }
}
