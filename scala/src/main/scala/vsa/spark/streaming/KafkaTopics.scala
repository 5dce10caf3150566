package vsa.spark.streaming

import java.time.Duration
import java.util.concurrent.{ExecutionException, TimeUnit}

import scala.jdk.CollectionConverters._

import org.apache.kafka.clients.admin.{Admin, AdminClientConfig}
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException

/** What the job needs to know of its topics before it starts: which exist, and their partitions, one Kafka source each
  * (so the watermark follows the slowest partition). `options` are Kafka client settings (security…), as the job's
  * sources get them.
  */
object KafkaTopics {

  /** The names of the cluster's topics (internal ones left out), sorted. Throws the admin client's exception when the
    * brokers do not answer within `timeoutMs`, or refuse the client.
    */
  def names(bootstrapServers: String, options: java.util.Map[String, String], timeoutMs: Long): Seq[String] = {
    val admin = Admin.create(settings(bootstrapServers, options, timeoutMs))
    try admin.listTopics().names().get(timeoutMs, TimeUnit.MILLISECONDS).asScala.toSeq.sorted
    finally admin.close(Duration.ofSeconds(1))
  }

  /** The partition numbers of `topic`, ascending. A topic that does not exist is an `IllegalArgumentException` naming
    * it.
    */
  def partitions(
      bootstrapServers: String,
      options: java.util.Map[String, String],
      topic: String,
      timeoutMs: Long
  ): Array[Int] = {
    val admin = Admin.create(settings(bootstrapServers, options, timeoutMs))
    try {
      val described =
        admin.describeTopics(java.util.List.of(topic)).allTopicNames().get(timeoutMs, TimeUnit.MILLISECONDS)
      described.get(topic).partitions().asScala.map(_.partition()).sorted.toArray
    } catch {
      case e: ExecutionException if e.getCause.isInstanceOf[UnknownTopicOrPartitionException] =>
        throw new IllegalArgumentException(s"Kafka topic '$topic' does not exist at $bootstrapServers", e)
    } finally admin.close()
  }

  private def settings(
      bootstrapServers: String,
      options: java.util.Map[String, String],
      timeoutMs: Long
  ): java.util.Map[String, Object] = {
    val settings = new java.util.HashMap[String, Object](options)
    settings.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers)
    settings.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, Int.box(timeoutMs.toInt))
    settings.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, Int.box(timeoutMs.toInt))
    settings
  }
}
