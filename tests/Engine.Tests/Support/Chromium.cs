using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;

namespace NeuronEngine.Tests.Support;

/// <summary>
/// Headless Chromium driven through chromedriver (W3C WebDriver via Selenium), both from the system: Debian's
/// `chromium` and `chromium-driver` packages on PATH (`.ci/run` installs them), or the paths in ENGINE_CHROMIUM and
/// ENGINE_CHROMEDRIVER. Nothing is downloaded. One browser per fixture. Where there is none (not installed, or it
/// would not start) every use of <see cref="Driver"/> skips the test with the reason — or fails it under
/// ENGINE_REQUIRE_CHROMIUM=1 (<see cref="RequiredTool"/>).
/// </summary>
public sealed class ChromiumFixture : IDisposable
{
    private readonly ChromeDriver? _driver;

    /// <summary>Why there is no browser, or null.</summary>
    public string? Unavailable { get; }

    /// <summary>The browser; skips (or fails, where Chromium is required) the calling test when there is none.</summary>
    public ChromeDriver Driver
    {
        get
        {
            if (Unavailable is { } why) RequiredTool.Missing("chromium", why);
            return _driver!;
        }
    }

    private static string? Find(string variable, params string[] names) =>
        Environment.GetEnvironmentVariable(variable) is { Length: > 0 } set ? set : RequiredTool.OnPath(names);

    public ChromiumFixture()
    {
        string? browser = Find("ENGINE_CHROMIUM", "chromium", "chromium-browser", "google-chrome");
        string? driver = Find("ENGINE_CHROMEDRIVER", "chromedriver");
        foreach (var (variable, path) in new[] { ("ENGINE_CHROMIUM", browser), ("ENGINE_CHROMEDRIVER", driver) })
            if (path is not null && !File.Exists(path))
            {
                Unavailable = $"{variable}={path}: no such file";
                return;
            }
        if (browser is null || driver is null)
        {
            Unavailable = $"no system Chromium{(browser is null ? "" : $" driver (have {browser})")} on PATH: install Debian's chromium and chromium-driver " +
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
        try
        {
            _driver = new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
            _driver.Manage().Timeouts().PageLoad = TimeSpan.FromSeconds(30);
        }
        catch (WebDriverException e)
        {
            _driver?.Quit();
            _driver = null;
            Unavailable = $"Chromium ({browser}) did not start through {driver}: {e.Message.Split('\n')[0]}";
        }
    }

    /// <summary>The browser console's entries since the last call (reading clears them).</summary>
    public IReadOnlyList<LogEntry> ConsoleEntries() => Driver.Manage().Logs.GetLog(LogType.Browser);

    public void Dispose() => _driver?.Quit();
}
