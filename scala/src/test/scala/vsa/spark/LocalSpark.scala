package vsa.spark

import java.io.File

import org.apache.spark.sql.SparkSession
import org.scalatest.{BeforeAndAfterAll, Suite}

/** A local SparkSession with vsa's extension, stopped after the suite. */
trait LocalSpark extends BeforeAndAfterAll { self: Suite =>

  protected lazy val spark: SparkSession = SparkSession
    .builder()
    .master("local[1]")
    .config("spark.sql.extensions", classOf[VsaSparkSessionExtensions].getName)
    .config("spark.ui.enabled", "false")
    .config("spark.sql.shuffle.partitions", "1")
    .getOrCreate()

  override def afterAll(): Unit = spark.stop()
}

/** The third-party test data of ../shared/data (VSA_SHARED_DATA overrides), read in place. */
object SharedData {
  lazy val dir: File = sys.env
    .get("VSA_SHARED_DATA")
    .map(new File(_))
    .orElse(
      Iterator
        .iterate(new File(".").getAbsoluteFile)(_.getParentFile)
        .takeWhile(_ != null)
        .map(new File(_, "shared/data"))
        .find(d => new File(d, "mmdb").isDirectory)
    )
    .getOrElse(sys.error("shared test data not found (set VSA_SHARED_DATA)"))

  def mmdb(name: String): String = new File(dir, s"mmdb/$name").getPath
}
