using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;

namespace NeuronEngine.Tests.Support;

/// <summary>
/// Headless Chromium driven through chromedriver (W3C WebDriver via Selenium), both from the system: Debian's
/// `chromium` and `chromium-driver` packages (`.ci/run` installs them), or the paths in ENGINE_CHROMIUM and
/// ENGINE_CHROMEDRIVER. Nothing is downloaded. One browser per fixture; <see cref="Unavailable"/> says why there
/// is none (tests then skip with that reason).
/// </summary>
public sealed class ChromiumFixture : IDisposable
{
    public ChromeDriver? Driver { get; }
    public string? Unavailable { get; }

    private static string? Find(string variable, params string[] candidates) =>
        Environment.GetEnvironmentVariable(variable) is { Length: > 0 } set ? set : candidates.FirstOrDefault(File.Exists);

    public ChromiumFixture()
    {
        string? browser = Find("ENGINE_CHROMIUM", "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome");
        string? driver = Find("ENGINE_CHROMEDRIVER", "/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver");
        if (browser is null || driver is null)
        {
            Unavailable = $"no system Chromium{(browser is null ? "" : $" driver (have {browser})")}: install Debian's chromium and chromium-driver " +
                "(`apt-get install chromium chromium-driver`, as .ci/run does) or set ENGINE_CHROMIUM / ENGINE_CHROMEDRIVER";
            return;
        }
        var options = new ChromeOptions { BinaryLocation = browser };
        // --no-sandbox: CI containers run as root, where Chromium's sandbox refuses to start.
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000",
            "--no-first-run", "--disable-extensions", "--hide-scrollbars");
        options.SetLoggingPreference(LogType.Browser, LogLevel.All);
        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(driver)!, Path.GetFileName(driver));
        service.SuppressInitialDiagnosticInformation = true;
        service.HideCommandPromptWindow = true;
        Driver = new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
        Driver.Manage().Timeouts().PageLoad = TimeSpan.FromSeconds(30);
    }

    /// <summary>The browser console's entries since the last call (reading clears them).</summary>
    public IReadOnlyList<LogEntry> ConsoleEntries() => Driver!.Manage().Logs.GetLog(LogType.Browser);

    public void Dispose() => Driver?.Quit();
}
