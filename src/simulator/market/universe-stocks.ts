/** One US stock or ETF on SMART. */
export interface StockSpec {
  symbol: string;
  conId: number;
  primaryExchange: string;
  longName: string;
  industry: string;
  category: string;
  stockType: 'COMMON' | 'ETF';
  price: number;
  volatility: number;
  dailyVolume: number;
  isin: string;
}

/**
 * The broad list of ordinary US stocks and ETFs (beyond the hand-described ones in universe.ts), so that
 * a client asking for a common symbol finds it. Prices are plausible round figures, not market data;
 * conIds are the simulator's own (700,000,000 + position in this list: append only, never reorder), as
 * IB's real ones are not known for all of them.
 * Columns: symbol, primary exchange, long name, industry, category, stock type, price, volatility.
 */
type Row = [string, string, string, string, string, 'COMMON' | 'ETF', number, number];

const ROWS: Row[] = [
  ['ORCL', 'NYSE', 'ORACLE CORP', 'Technology', 'Software', 'COMMON', 170, 0.3],
  ['CRM', 'NYSE', 'SALESFORCE INC', 'Technology', 'Software', 'COMMON', 290, 0.32],
  ['ADBE', 'NASDAQ', 'ADOBE INC', 'Technology', 'Software', 'COMMON', 450, 0.3],
  ['INTC', 'NASDAQ', 'INTEL CORP', 'Technology', 'Semiconductors', 'COMMON', 22, 0.45],
  ['AMD', 'NASDAQ', 'ADVANCED MICRO DEVICES', 'Technology', 'Semiconductors', 'COMMON', 140, 0.5],
  ['AVGO', 'NASDAQ', 'BROADCOM INC', 'Technology', 'Semiconductors', 'COMMON', 220, 0.4],
  ['QCOM', 'NASDAQ', 'QUALCOMM INC', 'Technology', 'Semiconductors', 'COMMON', 160, 0.33],
  ['TXN', 'NASDAQ', 'TEXAS INSTRUMENTS INC', 'Technology', 'Semiconductors', 'COMMON', 190, 0.27],
  ['MU', 'NASDAQ', 'MICRON TECHNOLOGY INC', 'Technology', 'Semiconductors', 'COMMON', 100, 0.5],
  ['CSCO', 'NASDAQ', 'CISCO SYSTEMS INC', 'Communications', 'Telecommunications', 'COMMON', 58, 0.22],
  ['NFLX', 'NASDAQ', 'NETFLIX INC', 'Communications', 'Internet', 'COMMON', 900, 0.35],
  ['PYPL', 'NASDAQ', 'PAYPAL HOLDINGS INC', 'Financial', 'Commercial Services', 'COMMON', 75, 0.38],
  ['SHOP', 'NASDAQ', 'SHOPIFY INC - CLASS A', 'Communications', 'Internet', 'COMMON', 105, 0.5],
  ['UBER', 'NYSE', 'UBER TECHNOLOGIES INC', 'Communications', 'Internet', 'COMMON', 75, 0.4],
  ['ABNB', 'NASDAQ', 'AIRBNB INC-CLASS A', 'Communications', 'Internet', 'COMMON', 135, 0.4],
  ['PLTR', 'NASDAQ', 'PALANTIR TECHNOLOGIES INC-A', 'Technology', 'Software', 'COMMON', 75, 0.6],
  ['SNOW', 'NYSE', 'SNOWFLAKE INC-CLASS A', 'Technology', 'Software', 'COMMON', 170, 0.5],
  ['NOW', 'NYSE', 'SERVICENOW INC', 'Technology', 'Software', 'COMMON', 1000, 0.33],
  ['INTU', 'NASDAQ', 'INTUIT INC', 'Technology', 'Software', 'COMMON', 640, 0.3],
  ['AMAT', 'NASDAQ', 'APPLIED MATERIALS INC', 'Technology', 'Semiconductors', 'COMMON', 170, 0.4],
  ['LRCX', 'NASDAQ', 'LAM RESEARCH CORP', 'Technology', 'Semiconductors', 'COMMON', 75, 0.42],
  ['KLAC', 'NASDAQ', 'KLA CORP', 'Technology', 'Semiconductors', 'COMMON', 680, 0.38],
  ['ASML', 'NASDAQ', 'ASML HOLDING NV-NY REG SHS', 'Technology', 'Semiconductors', 'COMMON', 700, 0.38],
  ['TSM', 'NYSE', 'TAIWAN SEMICONDUCTOR-SP ADR', 'Technology', 'Semiconductors', 'COMMON', 200, 0.35],
  ['DELL', 'NYSE', 'DELL TECHNOLOGIES -C', 'Technology', 'Computers', 'COMMON', 120, 0.45],
  ['HPQ', 'NYSE', 'HP INC', 'Technology', 'Computers', 'COMMON', 33, 0.3],
  ['GOOG', 'NASDAQ', 'ALPHABET INC-CL C', 'Communications', 'Internet', 'COMMON', 181, 0.3],
  ['BAC', 'NYSE', 'BANK OF AMERICA CORP', 'Financial', 'Banks', 'COMMON', 45, 0.27],
  ['WFC', 'NYSE', 'WELLS FARGO & CO', 'Financial', 'Banks', 'COMMON', 72, 0.28],
  ['C', 'NYSE', 'CITIGROUP INC', 'Financial', 'Banks', 'COMMON', 70, 0.3],
  ['GS', 'NYSE', 'GOLDMAN SACHS GROUP INC', 'Financial', 'Banks', 'COMMON', 580, 0.28],
  ['MS', 'NYSE', 'MORGAN STANLEY', 'Financial', 'Banks', 'COMMON', 130, 0.28],
  ['SCHW', 'NYSE', 'SCHWAB (CHARLES) CORP', 'Financial', 'Diversified Finan Serv', 'COMMON', 78, 0.3],
  ['BLK', 'NYSE', 'BLACKROCK INC', 'Financial', 'Diversified Finan Serv', 'COMMON', 1000, 0.25],
  ['AXP', 'NYSE', 'AMERICAN EXPRESS CO', 'Financial', 'Diversified Finan Serv', 'COMMON', 290, 0.27],
  ['V', 'NYSE', 'VISA INC-CLASS A SHARES', 'Financial', 'Diversified Finan Serv', 'COMMON', 310, 0.2],
  ['MA', 'NYSE', 'MASTERCARD INC - A', 'Financial', 'Diversified Finan Serv', 'COMMON', 520, 0.2],
  ['BRK B', 'NYSE', 'BERKSHIRE HATHAWAY INC-CL B', 'Financial', 'Insurance', 'COMMON', 470, 0.17],
  [
    'COIN',
    'NASDAQ',
    'COINBASE GLOBAL INC -CLASS A',
    'Financial',
    'Diversified Finan Serv',
    'COMMON',
    260,
    0.7,
  ],
  ['HOOD', 'NASDAQ', 'ROBINHOOD MARKETS INC - A', 'Financial', 'Diversified Finan Serv', 'COMMON', 40, 0.65],
  ['JNJ', 'NYSE', 'JOHNSON & JOHNSON', 'Consumer, Non-cyclical', 'Pharmaceuticals', 'COMMON', 155, 0.16],
  ['PFE', 'NYSE', 'PFIZER INC', 'Consumer, Non-cyclical', 'Pharmaceuticals', 'COMMON', 26, 0.24],
  ['MRK', 'NYSE', 'MERCK & CO. INC.', 'Consumer, Non-cyclical', 'Pharmaceuticals', 'COMMON', 100, 0.22],
  ['ABBV', 'NYSE', 'ABBVIE INC', 'Consumer, Non-cyclical', 'Pharmaceuticals', 'COMMON', 180, 0.24],
  ['LLY', 'NYSE', 'ELI LILLY & CO', 'Consumer, Non-cyclical', 'Pharmaceuticals', 'COMMON', 800, 0.33],
  [
    'UNH',
    'NYSE',
    'UNITEDHEALTH GROUP INC',
    'Consumer, Non-cyclical',
    'Healthcare-Services',
    'COMMON',
    560,
    0.25,
  ],
  [
    'TMO',
    'NYSE',
    'THERMO FISHER SCIENTIFIC INC',
    'Consumer, Non-cyclical',
    'Healthcare-Products',
    'COMMON',
    550,
    0.24,
  ],
  ['ABT', 'NYSE', 'ABBOTT LABORATORIES', 'Consumer, Non-cyclical', 'Healthcare-Products', 'COMMON', 115, 0.2],
  ['DHR', 'NYSE', 'DANAHER CORP', 'Consumer, Non-cyclical', 'Healthcare-Products', 'COMMON', 240, 0.25],
  ['BMY', 'NYSE', 'BRISTOL-MYERS SQUIBB CO', 'Consumer, Non-cyclical', 'Pharmaceuticals', 'COMMON', 55, 0.25],
  ['AMGN', 'NASDAQ', 'AMGEN INC', 'Consumer, Non-cyclical', 'Biotechnology', 'COMMON', 300, 0.24],
  ['GILD', 'NASDAQ', 'GILEAD SCIENCES INC', 'Consumer, Non-cyclical', 'Biotechnology', 'COMMON', 90, 0.24],
  ['MRNA', 'NASDAQ', 'MODERNA INC', 'Consumer, Non-cyclical', 'Biotechnology', 'COMMON', 45, 0.55],
  ['CVS', 'NYSE', 'CVS HEALTH CORP', 'Consumer, Non-cyclical', 'Pharmaceuticals', 'COMMON', 55, 0.3],
  [
    'PG',
    'NYSE',
    'PROCTER & GAMBLE CO/THE',
    'Consumer, Non-cyclical',
    'Cosmetics/Personal Care',
    'COMMON',
    170,
    0.16,
  ],
  ['KO', 'NYSE', 'COCA-COLA CO/THE', 'Consumer, Non-cyclical', 'Beverages', 'COMMON', 65, 0.15],
  ['PEP', 'NASDAQ', 'PEPSICO INC', 'Consumer, Non-cyclical', 'Beverages', 'COMMON', 160, 0.17],
  ['PM', 'NYSE', 'PHILIP MORRIS INTERNATIONAL', 'Consumer, Non-cyclical', 'Agriculture', 'COMMON', 125, 0.2],
  ['MO', 'NYSE', 'ALTRIA GROUP INC', 'Consumer, Non-cyclical', 'Agriculture', 'COMMON', 55, 0.18],
  ['WMT', 'NYSE', 'WALMART INC', 'Consumer, Cyclical', 'Retail', 'COMMON', 90, 0.18],
  ['COST', 'NASDAQ', 'COSTCO WHOLESALE CORP', 'Consumer, Cyclical', 'Retail', 'COMMON', 920, 0.2],
  ['HD', 'NYSE', 'HOME DEPOT INC', 'Consumer, Cyclical', 'Retail', 'COMMON', 400, 0.22],
  ['LOW', 'NYSE', "LOWE'S COS INC", 'Consumer, Cyclical', 'Retail', 'COMMON', 260, 0.24],
  ['TGT', 'NYSE', 'TARGET CORP', 'Consumer, Cyclical', 'Retail', 'COMMON', 130, 0.3],
  ['MCD', 'NYSE', "MCDONALD'S CORP", 'Consumer, Cyclical', 'Retail', 'COMMON', 295, 0.17],
  ['SBUX', 'NASDAQ', 'STARBUCKS CORP', 'Consumer, Cyclical', 'Retail', 'COMMON', 100, 0.28],
  ['NKE', 'NYSE', 'NIKE INC -CL B', 'Consumer, Cyclical', 'Apparel', 'COMMON', 75, 0.3],
  ['DIS', 'NYSE', 'WALT DISNEY CO/THE', 'Communications', 'Media', 'COMMON', 110, 0.26],
  ['CMCSA', 'NASDAQ', 'COMCAST CORP-CLASS A', 'Communications', 'Media', 'COMMON', 38, 0.25],
  ['T', 'NYSE', 'AT&T INC', 'Communications', 'Telecommunications', 'COMMON', 22, 0.2],
  ['VZ', 'NYSE', 'VERIZON COMMUNICATIONS INC', 'Communications', 'Telecommunications', 'COMMON', 42, 0.18],
  ['TMUS', 'NASDAQ', 'T-MOBILE US INC', 'Communications', 'Telecommunications', 'COMMON', 230, 0.2],
  ['F', 'NYSE', 'FORD MOTOR CO', 'Consumer, Cyclical', 'Auto Manufacturers', 'COMMON', 10, 0.35],
  ['GM', 'NYSE', 'GENERAL MOTORS CO', 'Consumer, Cyclical', 'Auto Manufacturers', 'COMMON', 50, 0.33],
  [
    'RIVN',
    'NASDAQ',
    'RIVIAN AUTOMOTIVE INC-A',
    'Consumer, Cyclical',
    'Auto Manufacturers',
    'COMMON',
    13,
    0.65,
  ],
  ['BA', 'NYSE', 'BOEING CO/THE', 'Industrial', 'Aerospace/Defense', 'COMMON', 160, 0.33],
  ['CAT', 'NYSE', 'CATERPILLAR INC', 'Industrial', 'Machinery-Constr&Mining', 'COMMON', 380, 0.28],
  ['DE', 'NYSE', 'DEERE & CO', 'Industrial', 'Machinery-Diversified', 'COMMON', 420, 0.25],
  ['GE', 'NYSE', 'GENERAL ELECTRIC', 'Industrial', 'Aerospace/Defense', 'COMMON', 180, 0.3],
  [
    'HON',
    'NASDAQ',
    'HONEYWELL INTERNATIONAL INC',
    'Industrial',
    'Miscellaneous Manufactur',
    'COMMON',
    220,
    0.2,
  ],
  ['LMT', 'NYSE', 'LOCKHEED MARTIN CORP', 'Industrial', 'Aerospace/Defense', 'COMMON', 480, 0.2],
  ['RTX', 'NYSE', 'RTX CORP', 'Industrial', 'Aerospace/Defense', 'COMMON', 120, 0.22],
  ['UPS', 'NYSE', 'UNITED PARCEL SERVICE-CL B', 'Industrial', 'Transportation', 'COMMON', 130, 0.26],
  ['UNP', 'NYSE', 'UNION PACIFIC CORP', 'Industrial', 'Transportation', 'COMMON', 230, 0.22],
  ['MMM', 'NYSE', '3M CO', 'Industrial', 'Miscellaneous Manufactur', 'COMMON', 130, 0.26],
  ['XOM', 'NYSE', 'EXXON MOBIL CORP', 'Energy', 'Oil&Gas', 'COMMON', 115, 0.24],
  ['CVX', 'NYSE', 'CHEVRON CORP', 'Energy', 'Oil&Gas', 'COMMON', 155, 0.24],
  ['COP', 'NYSE', 'CONOCOPHILLIPS', 'Energy', 'Oil&Gas', 'COMMON', 105, 0.28],
  ['OXY', 'NYSE', 'OCCIDENTAL PETROLEUM CORP', 'Energy', 'Oil&Gas', 'COMMON', 50, 0.32],
  ['SLB', 'NYSE', 'SCHLUMBERGER LTD', 'Energy', 'Oil&Gas Services', 'COMMON', 42, 0.33],
  ['NEE', 'NYSE', 'NEXTERA ENERGY INC', 'Utilities', 'Electric', 'COMMON', 75, 0.24],
  ['DUK', 'NYSE', 'DUKE ENERGY CORP', 'Utilities', 'Electric', 'COMMON', 110, 0.17],
  ['SO', 'NYSE', 'SOUTHERN CO/THE', 'Utilities', 'Electric', 'COMMON', 88, 0.17],
  ['LIN', 'NASDAQ', 'LINDE PLC', 'Basic Materials', 'Chemicals', 'COMMON', 460, 0.18],
  ['FCX', 'NYSE', 'FREEPORT-MCMORAN INC', 'Basic Materials', 'Mining', 'COMMON', 45, 0.4],
  ['NEM', 'NYSE', 'NEWMONT CORP', 'Basic Materials', 'Mining', 'COMMON', 45, 0.35],
  ['AMT', 'NYSE', 'AMERICAN TOWER CORP', 'Financial', 'REITS', 'COMMON', 210, 0.25],
  ['PLD', 'NYSE', 'PROLOGIS INC', 'Financial', 'REITS', 'COMMON', 115, 0.26],
  ['DIA', 'ARCA', 'SPDR DJIA TRUST', 'Funds', 'Equity Fund', 'ETF', 430, 0.14],
  ['VOO', 'ARCA', 'VANGUARD S&P 500 ETF', 'Funds', 'Equity Fund', 'ETF', 550, 0.15],
  ['VTI', 'ARCA', 'VANGUARD TOTAL STOCK MKT ETF', 'Funds', 'Equity Fund', 'ETF', 290, 0.15],
  ['IVV', 'ARCA', 'ISHARES CORE S&P 500 ETF', 'Funds', 'Equity Fund', 'ETF', 600, 0.15],
  ['EEM', 'ARCA', 'ISHARES MSCI EMERGING MARKET', 'Funds', 'Equity Fund', 'ETF', 44, 0.18],
  ['EFA', 'ARCA', 'ISHARES MSCI EAFE ETF', 'Funds', 'Equity Fund', 'ETF', 80, 0.15],
  ['GLD', 'ARCA', 'SPDR GOLD SHARES', 'Funds', 'Commodity Fund', 'ETF', 240, 0.14],
  ['SLV', 'ARCA', 'ISHARES SILVER TRUST', 'Funds', 'Commodity Fund', 'ETF', 28, 0.28],
  ['USO', 'ARCA', 'UNITED STATES OIL FUND LP', 'Funds', 'Commodity Fund', 'ETF', 75, 0.33],
  ['TLT', 'NASDAQ', 'ISHARES 20+ YEAR TREASURY BD', 'Funds', 'Debt Fund', 'ETF', 92, 0.15],
  ['IEF', 'NASDAQ', 'ISHARES 7-10 YEAR TREASURY BD', 'Funds', 'Debt Fund', 'ETF', 95, 0.07],
  ['HYG', 'ARCA', 'ISHARES IBOXX HIGH YLD CORP', 'Funds', 'Debt Fund', 'ETF', 79, 0.06],
  ['LQD', 'ARCA', 'ISHARES IBOXX INV GR CORP BD', 'Funds', 'Debt Fund', 'ETF', 110, 0.08],
  ['XLF', 'ARCA', 'FINANCIAL SELECT SECTOR SPDR', 'Funds', 'Equity Fund', 'ETF', 48, 0.18],
  ['XLK', 'ARCA', 'TECHNOLOGY SELECT SECT SPDR', 'Funds', 'Equity Fund', 'ETF', 230, 0.22],
  ['XLE', 'ARCA', 'ENERGY SELECT SECTOR SPDR', 'Funds', 'Equity Fund', 'ETF', 90, 0.22],
  ['XLV', 'ARCA', 'HEALTH CARE SELECT SECTOR', 'Funds', 'Equity Fund', 'ETF', 145, 0.14],
  ['ARKK', 'ARCA', 'ARK INNOVATION ETF', 'Funds', 'Equity Fund', 'ETF', 55, 0.45],
  ['SMH', 'NASDAQ', 'VANECK SEMICONDUCTOR ETF', 'Funds', 'Equity Fund', 'ETF', 250, 0.32],
  ['VXX', 'BATS', 'IPATH SERIES B S&P 500 VIX', 'Funds', 'Equity Fund', 'ETF', 50, 0.7],
  ['GDX', 'ARCA', 'VANECK GOLD MINERS ETF', 'Funds', 'Equity Fund', 'ETF', 38, 0.33],
];

const FIRST_CON_ID = 700_000_000;

/** Daily volume: higher for cheaper and for ETF shares, roughly as traded. */
function dailyVolume(price: number, stockType: 'COMMON' | 'ETF'): number {
  const dollars = stockType === 'ETF' ? 3e9 : 1.5e9;
  return Math.round(dollars / price / 1_000) * 1_000;
}

export const BROAD_US_STOCKS: StockSpec[] = ROWS.map(
  ([symbol, primaryExchange, longName, industry, category, stockType, price, volatility], index) => ({
    symbol,
    conId: FIRST_CON_ID + index,
    primaryExchange,
    longName,
    industry,
    category,
    stockType,
    price,
    volatility,
    dailyVolume: dailyVolume(price, stockType),
    isin: '',
  }),
);
