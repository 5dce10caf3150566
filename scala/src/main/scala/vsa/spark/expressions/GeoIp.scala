package vsa.spark.expressions

import java.util.concurrent.ConcurrentHashMap

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.codegen.{CodegenContext, ExprCode}
import org.apache.spark.sql.catalyst.expressions.codegen.UnsafeRowWriter
import org.apache.spark.sql.catalyst.expressions.{ExpectsInputTypes, Expression, UnaryExpression}
import org.apache.spark.sql.internal.SQLConf
import org.apache.spark.sql.types._
import org.apache.spark.unsafe.types.UTF8String
import vsa.spark.geoip.{AsnRecord, CityRecord, GeoIpDatabase}
import vsa.spark.util.Utf8Cache

/** `vsa_geoip(ip)`: country, region, city, location and autonomous system of an IP address, from the MaxMind DB files
  * named by `spark.vsa.geoip.cityDb` and `spark.vsa.geoip.asnDb`.
  *
  * The files are read from the session's conf when the function is resolved, and opened and verified then, so a missing
  * or corrupt database fails the query when it is analysed, not row by row. The fields are those the Python `geoip2`
  * reader gives: `country.iso_code` (no fallback to `registered_country`), the first subdivision's `iso_code`,
  * `city.names.en`, `location.latitude/longitude`, `autonomous_system_number/organization`.
  *
  * A null input gives null; anything else gives a struct, whose fields are null where nothing is known: not an IP
  * literal (names are never resolved), an address the database does not hold, or a database that is not configured.
  */
case class GeoIp(child: Expression, cityDb: Option[String], asnDb: Option[String])
    extends UnaryExpression
    with ExpectsInputTypes {

  override def inputTypes = Seq(StringType)

  override def dataType: DataType = GeoIp.ResultType

  @transient private lazy val city = cityDb.map(GeoIpDatabase.open(_, GeoIp.CityDbKey))
  @transient private lazy val asn = asnDb.map(GeoIpDatabase.open(_, GeoIp.AsnDbKey))

  // Events of one viewer repeat its address: a bounded cache of answers (cleared when full, as the user-agent
  // parser's) spares most rows the tree walk. One per JVM and pair of databases, as the databases themselves are
  // opened once per JVM: a streaming job's tasks are new every micro-batch, and a per-task cache started empty each time.
  // Longer inputs than MaxCachedBytes are answered, not cached (see there).
  @transient private lazy val answers = GeoIp.answersFor(cityDb, asnDb)

  override protected def nullSafeEval(input: Any): Any = answer(input.asInstanceOf[UTF8String])

  // A call of `answer`, so the projection stays in whole-stage code generation (see ParseUserAgent).
  override protected def doGenCode(ctx: CodegenContext, ev: ExprCode): ExprCode = {
    val self = ctx.addReferenceObj("geoip", this)
    defineCodeGen(ctx, ev, ip => s"$self.answer($ip)")
  }

  def answer(ip: UTF8String): InternalRow = {
    val cached = answers.get(ip)
    if (cached != null) return cached
    val row = lookup(ip.toString.trim)
    answers.put(ip, row)
    row
  }

  // An UnsafeRow, as vsa_parse_ua's (see ParsedUserAgent.row): the whole struct copies in one go.
  private def lookup(ip: String): InternalRow = {
    val address = MaskIp.parseLiteral(ip)
    val place = address.flatMap(a => city.map(_.lookup(a, classOf[CityRecord]))).orNull
    val network = address.flatMap(a => asn.map(_.lookup(a, classOf[AsnRecord]))).orNull
    val writer = new UnsafeRowWriter(GeoIp.ResultType.length)
    writer.resetRowWriter()
    def text(ordinal: Int, value: UTF8String): Unit =
      if (value == null) writer.setNullAt(ordinal) else writer.write(ordinal, value)
    if (place == null) (0 to 4).foreach(writer.setNullAt)
    else {
      text(0, place.countryIsoCode)
      text(1, place.regionIsoCode)
      text(2, place.cityName)
      if (place.latitude == null) writer.setNullAt(3) else writer.write(3, place.latitude.doubleValue)
      if (place.longitude == null) writer.setNullAt(4) else writer.write(4, place.longitude.doubleValue)
    }
    if (network == null || network.asn == null) writer.setNullAt(5) else writer.write(5, network.asn.longValue)
    text(6, if (network == null) null else network.asOrg)
    writer.getRow.copy()
  }

  override protected def withNewChildInternal(newChild: Expression): GeoIp = copy(child = newChild)

  override def prettyName: String = "vsa_geoip"
}

object GeoIp {
  val CityDbKey = "spark.vsa.geoip.cityDb"
  val AsnDbKey = "spark.vsa.geoip.asnDb"
  val CacheCapacity = 65536
  // An address as written is at most 45 characters (an IPv4-mapped IPv6), a few more with brackets, a port or a zone;
  // 128 bytes also holds an X-Forwarded-For list of a few hops. Longer text is looked up but not cached, so the keys
  // take at most CacheCapacity × 128 bytes (8 MB) whatever the input.
  val MaxCachedBytes = 128

  private val caches = new ConcurrentHashMap[(Option[String], Option[String]), Utf8Cache[InternalRow]]()

  private[spark] def answersFor(cityDb: Option[String], asnDb: Option[String]): Utf8Cache[InternalRow] =
    caches.computeIfAbsent((cityDb, asnDb), _ => new Utf8Cache[InternalRow](CacheCapacity, MaxCachedBytes))

  val ResultType: StructType = StructType(
    Seq(
      StructField("country", StringType),
      StructField("region", StringType),
      StructField("city", StringType),
      StructField("latitude", DoubleType),
      StructField("longitude", DoubleType),
      StructField("asn", LongType),
      StructField("as_org", StringType)
    )
  )

  /** Builds the expression from the session's conf, opening and verifying both databases now (on the driver). */
  def fromConf(child: Expression): GeoIp = {
    val conf = SQLConf.get
    def path(key: String) = Option(conf.getConfString(key, null)).map(_.trim).filter(_.nonEmpty)
    val cityDb = path(CityDbKey)
    val asnDb = path(AsnDbKey)
    if (cityDb.isEmpty && asnDb.isEmpty)
      throw new IllegalArgumentException(
        s"vsa_geoip needs a GeoIP database: set $CityDbKey (a GeoIP2/GeoLite2 City .mmdb) and/or $AsnDbKey " +
          "(a GeoLite2 ASN .mmdb)"
      )
    expectType(cityDb, CityDbKey, "City")
    expectType(asnDb, AsnDbKey, "ASN")
    GeoIp(child, cityDb, asnDb)
  }

  private def expectType(path: Option[String], key: String, kind: String): Unit =
    path.map(GeoIpDatabase.open(_, key)).filterNot(_.databaseType.contains(kind)).foreach { db =>
      throw new IllegalArgumentException(
        s"GeoIP database ${db.path} ($key) is a ${db.databaseType} database, not a $kind database"
      )
    }
}
