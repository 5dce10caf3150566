package vsa.spark.geoip

import java.io.{File, IOException}
import java.net.InetAddress
import java.nio.channels.FileChannel
import java.nio.file.StandardOpenOption
import java.util.concurrent.ConcurrentHashMap

import com.maxmind.db.{CHMCache, Reader}
import org.apache.spark.SparkFiles

import scala.util.Try

/** An opened, verified MaxMind DB file: memory-mapped, thread-safe, with a cache of decoded records. */
final class GeoIpDatabase private (val path: String, reader: Reader) {

  def databaseType: String = reader.getMetadata.databaseType()

  /** The record of `address` decoded as a `T`, or null when the database has none. A decoding error names the file. */
  def lookup[T](address: InetAddress, record: Class[T]): T =
    try reader.get(address, record)
    catch {
      case e: IOException =>
        throw new IllegalStateException(
          s"GeoIP database $path is corrupt: lookup of $address failed: ${e.getMessage}",
          e
        )
    }
}

object GeoIpDatabase {
  private val opened = new ConcurrentHashMap[String, GeoIpDatabase]()

  /** The database at `configured` (a local path, or the name of a file shipped with `spark.files` / `addFile`), opened
    * and verified once per JVM. Throws [[IllegalArgumentException]] naming the file and the conf key when it is
    * missing, unreadable or corrupt.
    */
  def open(configured: String, confKey: String): GeoIpDatabase =
    opened.computeIfAbsent(configured, _ => load(configured, confKey))

  private def load(configured: String, confKey: String): GeoIpDatabase = {
    val file = resolve(configured).getOrElse(
      throw new IllegalArgumentException(
        s"GeoIP database $configured ($confKey) does not exist: neither a local file nor a file added with " +
          "spark.files / SparkContext.addFile"
      )
    )
    def invalid(what: String, cause: Throwable) =
      new IllegalArgumentException(s"GeoIP database $file ($confKey) $what", cause)
    val reader =
      try new Reader(file, Reader.FileMode.MEMORY_MAPPED, new CHMCache())
      catch { case e: IOException => throw invalid(s"cannot be opened as a MaxMind DB: ${e.getMessage}", e) }
    try {
      val channel = FileChannel.open(file.toPath, StandardOpenOption.READ)
      try MmdbVerifier.verify(channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size()), reader.getMetadata)
      finally channel.close()
    } catch {
      case e: InvalidMmdbException =>
        reader.close()
        throw invalid(s"is corrupt: ${e.getMessage}", e)
    }
    new GeoIpDatabase(file.getPath, reader)
  }

  /** The local file itself, else the copy SparkFiles keeps of a file shipped to the executors. */
  private def resolve(configured: String): Option[File] = {
    val local = new File(configured)
    if (local.isFile) Some(local)
    else Try(new File(SparkFiles.get(local.getName))).toOption.filter(_.isFile)
  }
}
