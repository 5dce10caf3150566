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

  /** `body` with the session's conf `pairs` set, unset afterwards. */
  protected def withConf[T](pairs: (String, String)*)(body: => T): T = {
    pairs.foreach { case (k, v) => spark.conf.set(k, v) }
    try body
    finally pairs.foreach { case (k, _) => spark.conf.unset(k) }
  }

  /** `body` with expressions in generated code only, then interpreted only; it gets the mode, to name it. */
  protected def inBothCodegenModes(body: String => Unit): Unit =
    for (mode <- Seq("CODEGEN_ONLY", "NO_CODEGEN")) withConf("spark.sql.codegen.factoryMode" -> mode)(body(mode))
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
