package vsa.spark.geoip

import com.maxmind.db.{MaxMindDbConstructor, MaxMindDbParameter}
import org.apache.spark.unsafe.types.UTF8String

/** The fields of a City record that `vsa_geoip` returns, decoded by the reader once per record (its node cache keeps
  * the instance), with the strings already in Spark's encoding.
  */
final class CityRecord @MaxMindDbConstructor() (
    @MaxMindDbParameter(name = "country") country: java.util.Map[String, AnyRef],
    @MaxMindDbParameter(name = "subdivisions") subdivisions: java.util.List[AnyRef],
    @MaxMindDbParameter(name = "city") city: java.util.Map[String, AnyRef],
    @MaxMindDbParameter(name = "location") location: java.util.Map[String, AnyRef]
) {
  val countryIsoCode: UTF8String = GeoRecords.text(GeoRecords.field(country, "iso_code"))
  val regionIsoCode: UTF8String = GeoRecords.text(subdivisions match {
    case list: java.util.List[_] if !list.isEmpty => GeoRecords.field(list.get(0), "iso_code")
    case _                                        => null
  })
  val cityName: UTF8String = GeoRecords.text(GeoRecords.field(GeoRecords.field(city, "names"), "en"))
  val latitude: java.lang.Double = GeoRecords.double(GeoRecords.field(location, "latitude"))
  val longitude: java.lang.Double = GeoRecords.double(GeoRecords.field(location, "longitude"))
}

/** The fields of an ASN record that `vsa_geoip` returns. */
final class AsnRecord @MaxMindDbConstructor() (
    @MaxMindDbParameter(name = "autonomous_system_number") number: java.lang.Long,
    @MaxMindDbParameter(name = "autonomous_system_organization") organization: String
) {
  val asn: java.lang.Long = number
  val asOrg: UTF8String = GeoRecords.text(organization)
}

private object GeoRecords {
  def field(map: AnyRef, key: String): AnyRef = map match {
    case m: java.util.Map[_, _] => m.get(key).asInstanceOf[AnyRef]
    case _                      => null
  }

  def text(value: AnyRef): UTF8String = value match {
    case s: String => UTF8String.fromString(s)
    case _         => null
  }

  def double(value: AnyRef): java.lang.Double = value match {
    case d: java.lang.Double => d
    case _                   => null
  }
}
