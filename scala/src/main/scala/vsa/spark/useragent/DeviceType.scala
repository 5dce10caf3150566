package vsa.spark.useragent

/** The device class of a parsed user agent: desktop, mobile, tablet, tv, console, bot or other.
  *
  * bot, tablet, mobile and desktop follow the Python `user-agents` package (is_bot, is_tablet, is_mobile, is_pc,
  * checked in that order) so the two agree; tv and console, which `user-agents` does not know, are checked first from
  * markers the TV and console platforms put in their agents.
  */
object DeviceType {
  private val MobileDeviceFamilies =
    Set("iPhone", "iPod", "Generic Smartphone", "Generic Feature Phone", "PlayStation Vita", "iOS-Device")
  private val PcOsFamilies = Set("Windows 95", "Windows 98", "Solaris")
  private val MobileOsFamilies =
    Set("Windows Phone", "Windows Phone OS", "Symbian OS", "Bada", "Windows CE", "Windows Mobile", "Maemo")
  private val MobileBrowserFamilies =
    Set("IE Mobile", "Opera Mobile", "Opera Mini", "Chrome Mobile", "Chrome Mobile WebView", "Chrome Mobile iOS")
  private val TabletDeviceFamilies = Set(
    "iPad",
    "BlackBerry Playbook",
    "Blackberry Playbook",
    "Kindle",
    "Kindle Fire",
    "Kindle Fire HD",
    "Galaxy Tab",
    "Xoom",
    "Dell Streak"
  )
  private val TvMarkers = Seq(
    "SmartTV",
    "SMART-TV",
    "Smart-TV",
    "SmartTv",
    "HbbTV",
    "GoogleTV",
    "Google TV",
    "Android TV",
    "AndroidTV",
    "AppleTV",
    "Apple TV",
    "tvOS",
    "Roku",
    "BRAVIA",
    "Web0S",
    "webOS.TV",
    "NetCast",
    "Tizen TV",
    "CrKey",
    "AFTB",
    "AFTM",
    "AFTS",
    "AFTT",
    "AFTK",
    "AFTN",
    "AFTR",
    "AFTA",
    "AFTKA",
    "AFTMM",
    "AFTSS",
    "Viera",
    "Opera TV",
    "TV Safari",
    "SMART_TV",
    "PhilipsTV",
    "Chromecast"
  )
  private val ConsoleMarkers = Seq("PlayStation 3", "PlayStation 4", "PlayStation 5", "PLAYSTATION", "Xbox", "Nintendo")

  def classify(ua: String, browserFamily: String, osFamily: String, osMajor: String, deviceFamily: String): String = {
    val osVersion = Option(osMajor).getOrElse("")
    if (deviceFamily == "Spider") "bot"
    else if (deviceFamily != "PlayStation Vita" && ConsoleMarkers.exists(ua.contains)) "console"
    else if (TvMarkers.exists(ua.contains)) "tv"
    else if (isTablet(ua, browserFamily, osFamily, osVersion, deviceFamily)) "tablet"
    else if (isMobile(ua, browserFamily, osFamily, deviceFamily)) "mobile"
    else if (isPc(ua, osFamily, osVersion)) "desktop"
    else "other"
  }

  private def isTablet(ua: String, browser: String, os: String, osVersion: String, device: String): Boolean =
    TabletDeviceFamilies(device) ||
      (os == "Android" && !ua.contains("Mobile Safari") && browser != "Firefox Mobile") ||
      (os == "Windows" && osVersion.startsWith("RT")) ||
      (os == "Firefox OS" && !browser.contains("Mobile"))

  private def isMobile(ua: String, browser: String, os: String, device: String): Boolean =
    MobileDeviceFamilies(device) || MobileBrowserFamilies(browser) || os == "Android" || os == "Firefox OS" ||
      (os == "BlackBerry OS" && device != "Blackberry Playbook") || MobileOsFamilies(os) ||
      ua.contains("J2ME") || ua.contains("MIDP") || ua.contains("iPhone;") || ua.contains("Googlebot-Mobile") ||
      (ua.contains("NokiaBrowser") && ua.contains("Mobile"))

  private def isPc(ua: String, os: String, osVersion: String): Boolean =
    ua.contains("Windows NT") || PcOsFamilies(os) || (os == "Windows" && osVersion == "ME") ||
      (os == "Mac OS X" && !ua.contains("Silk")) ||
      (!ua.contains("Maemo") && (os.contains("Chrome OS") || (ua.contains("Linux") && ua.contains("X11"))))
}
