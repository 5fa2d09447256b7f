export { chileanHolidays, easterSunday, isChileanHoliday, juneSolsticeDay, type Holiday } from './holidays.js';
export { calendarModel, calendarFeatures, isMonthEnd, mulberry32, randomForest, seasonalNaive, CANDIDATES, type Model, type Forecaster, type CalendarOptions } from './models.js';
export { forecastFolios, fitBest, predictDay, maseScale, supply, toSeries, type ForecastInput, type ForecastResult, type DailyPrediction, type CafRemaining, type SupplyResult, type FitResult, type FitOptions, type Series } from './forecast.js';
export { evaluate, type EvalSeries, type EvalReport } from './evaluate.js';
