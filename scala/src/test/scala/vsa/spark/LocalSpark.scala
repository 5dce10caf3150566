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

/** The third-party test data vendored in tests/data/third_party (its README.md says what and from where), found from
  * the working directory up; VSA_SHARED_DATA points at another copy of the same layout.
  */
object ThirdPartyData {
  lazy val dir: File = sys.env
    .get("VSA_SHARED_DATA")
    .filter(_.nonEmpty)
    .map(new File(_))
    .orElse(
      Iterator
        .iterate(new File(".").getAbsoluteFile)(_.getParentFile)
        .takeWhile(_ != null)
        .map(new File(_, "tests/data/third_party"))
        .find(d => new File(d, "mmdb").isDirectory)
    )
    .getOrElse(sys.error("third-party test data not found (tests/data/third_party)"))

  def mmdb(name: String): String = new File(dir, s"mmdb/$name").getPath
}
